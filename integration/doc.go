// Package integration holds the end-to-end tests: they build the berth binary
// once and run it as a user would, checking stdout, stderr and exit codes.
// Unit tests live beside the code they test.
package integration
