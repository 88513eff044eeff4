// Package slack posts incidents to a Slack incoming webhook as a short,
// readable message: a title with the state and the count of firing alerts,
// the probable cause, the top alerts and a link to the incident. Slack's
// 429 answers are retried after the Retry-After it sends.
//
// It must not log or return the webhook URL (it is the credential), nor
// try to keep a thread per incident (an incoming webhook cannot).
package slack
