// Package registrytest runs a real registry for tests: Debian's
// docker-registry (the CNCF distribution server) on a free port of 127.0.0.1,
// with its storage in the test's temporary directory, stopped when the test
// ends.
package registrytest
