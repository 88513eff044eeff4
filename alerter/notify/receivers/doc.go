// Package receivers builds the receivers of a config — the `receivers:`
// list Alertmanager users know, each with pagerduty_configs,
// webhook_configs and slack_configs — into one notify.Notifier per
// receiver name. A receiver with several configs fans out to all of them
// (concurrently) and returns retry=true when any part that failed may
// succeed later; parts that already succeeded or failed for good are not
// sent again when the same message is retried in the same process.
//
// It lives apart from package notify because it imports the receivers,
// which import notify. It must not route (the alerter picks the
// receiver), store or retry anything itself: the outbox worker retries.
package receivers
