// Package yamlutil holds what every fleetwatch config decoder needs from
// yaml.v3 and does not get from it.
//
// FormatError, DecodeError and Locate turn yaml.v3's decoding errors into
// fleetwatch's error format, `file:line: field: problem`, one line per
// problem, so every config and inventory error points at the line to fix.
// CheckKeys refuses unknown keys (and secrets written inline) in blocks
// whose type has its own UnmarshalYAML, where the decoder's
// KnownFields(true) does not reach; KeyLine and HasKey find keys for
// messages.
//
// It must not know any fleetwatch config type, read files, log, or keep
// state between calls: every function works on the node and the type it is
// given.
package yamlutil
