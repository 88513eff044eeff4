// Package notifyutil holds what the receivers share: strict YAML key
// checking with line numbers, secrets read from files or the environment,
// the TLS client settings, and an HTTP POST that classifies the answer
// (retry on 429, 5xx and network errors, not on other 4xx) and honours
// Retry-After.
//
// It must not log, keep state between calls, or put a URL, header value or
// secret into an error: webhook URLs and headers often carry tokens.
package notifyutil
