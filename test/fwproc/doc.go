// Package fwproc builds the fleetwatch binary and runs it as a user would,
// for the black-box suites under test/ (test/hostile, test/soak): a config
// in a temporary directory, a free loopback port, the process's log kept,
// and its resources (RSS, open file descriptors, /metrics) read from
// outside.
//
// It must not import any fleetwatch package: the suites test the binary,
// not its Go API. It holds no global state; every Server belongs to the
// test that started it and is stopped when that test ends.
package fwproc
