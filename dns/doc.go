// Package dns is the embedded resolver each container sees at 127.0.0.11:
// service, container, alias and hostname records for the networks the
// container is on, PTR records, and forwarding of every other name upstream.
//
// Empty until the networks issue (issue 5).
package dns
