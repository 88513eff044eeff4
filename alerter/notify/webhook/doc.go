// Package webhook posts incidents to an HTTP endpoint in Alertmanager's
// webhook format (version 4), so consumers written for Alertmanager read
// fleetwatch's notifications unchanged. Triggers are sent with status
// "firing" and resolves with "resolved"; acknowledgements and change events
// have no place in that format and are not sent.
//
// It must not log or return the URL or header values (they often carry a
// token), nor follow redirects, nor send anything but the version 4 JSON.
package webhook
