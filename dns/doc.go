// Package dns is the embedded resolver each container on a user-defined
// network sees at 127.0.0.11, as in Docker:
//
//   - table.go: the entries (a container's names and address on one
//     network), one file each under the run directory, and a Table that
//     keeps them in memory, refreshed on fsnotify events;
//   - resolver.go: the Resolver, a miekg/dns handler that answers names
//     and addresses on the asking container's networks and forwards the
//     rest; Serve runs it on sockets the caller opened (in the container's
//     namespace);
//   - upstream.go: where forwarded questions go: --dns servers, the host's
//     resolv.conf, or systemd-resolved's real upstreams.
//
// The package opens no namespace and knows no container: the container
// package writes the entries and serves a Resolver from each monitor.
package dns
