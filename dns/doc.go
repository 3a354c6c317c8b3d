// Package dns is the embedded resolver each container on a user-defined
// network sees at 127.0.0.11, as in Docker, so that configurations written
// for Docker (an nginx `resolver 127.0.0.11`) work unchanged.
//
// The package opens no namespace and knows no container: the container's
// monitor writes the entries and serves a [Resolver] on sockets it opened
// inside the container's network namespace.
//
// # Entries
//
// An [Entry] is one container's names (name, short ID, hostname, aliases)
// and address on one network, and whether the network is internal: one
// file per container per network, <dir>/<network>/<container>.json, dir
// being the run directory's dns/ (/run/berth/<hash>/runc/dns). The monitor
// writes one ([WriteEntry]) when a container joins a user-defined network
// and removes it when it leaves; they live under /run, need no fsync and are
// gone after a reboot, like the containers they describe. [Sweep] removes
// those of containers that are gone.
//
// A [Table] keeps the entries in memory and reads them again after fsnotify
// reports a change, so that a started container resolves, and a stopped one
// is gone, with the next query, without reading the files for every query.
// Where inotify instances run out (fs.inotify.max_user_instances, one per
// running container's resolver), a table reads the files on each query
// instead: slower, never wrong.
//
// # Resolver
//
// A [Resolver] answers for one container, in two steps (documented on the
// type): local answers for the networks the container is on (A shuffled
// over every container with the name, a service's replicas; AAAA empty,
// berth's networks being IPv4; PTR; names also as name.network), then
// forwarding to the upstreams by the query's own transport. A truncated UDP
// answer goes back truncated (re-packed compressed, or it would not fit),
// so the client retries over TCP. A container whose networks are all
// internal forwards nothing: NXDOMAIN. Local answers have a [TTL] of one
// second, so a recreated container's new address is seen at once (Docker's
// 600 s keeps the old one in clients' caches).
//
// The fast path (fast.go): an A, AAAA or PTR question about a known name is
// answered from bytes packed once per change of the entries, the query's
// question (its case kept) copied in and each record pointing to it, by one
// goroutine per UDP socket ([Serve] takes several sockets bound to one port
// with SO_REUSEPORT, one per core); everything else is unpacked and
// answered by [Resolver.Answer] in a goroutine of its own, so a forwarded
// question never holds the others up. TCP goes through miekg/dns's server.
// A fuzz test checks that every fast answer is a well-formed reply to its
// query.
//
// # Upstreams
//
// [ReadUpstreams]: --dns servers, else the host's resolv.conf; when that
// names only systemd-resolved's stub, the real upstreams from
// /run/systemd/resolve/resolv.conf. The resolver dials them from the host's
// namespace (where the monitor runs), so a loopback --dns server works.
//
// # In the container
//
// The monitor opens a UDP and a TCP socket on 127.0.0.11, port 0, inside
// the container's namespace (netns.Do), and netns.RedirectDNS adds a table
// of the namespace's own that DNATs 127.0.0.11:53 to them, so that a DNS
// server in the container can still bind port 53. Both go when the
// container stops.
package dns
