// Package notify defines what a receiver is given and what it answers: a
// Message about one incident, and a Notifier that delivers it and says
// whether a failure is worth retrying. One subpackage per receiver
// (pagerduty, webhook, slack) implements Notifier. The outbox worker in the
// alerter calls them; receivers know nothing of the store or the routing.
package notify
