// Package pdtest is a local PagerDuty Events API v2 endpoint for tests. It
// validates requests the way PagerDuty documents them (routing_key of 32
// characters, event_action, dedup_key of at most 255 characters, summary,
// source and a known severity on a trigger), answers 202 with {status,
// message, dedup_key} or 400 with {status, message, errors}, records every
// event and keeps each alert's state by dedup_key, so a test can count the
// pages a person would get. Knobs make the next requests fail with 429,
// 500 or 400 (FailNext) or hang until released (Stall, Release), so a
// test can kill the sender in the middle of a send.
//
// It must not be used outside tests: it keeps everything in memory.
package pdtest
