package monitor

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/berth-dev/berth/record"
)

func TestShouldRestart(t *testing.T) {
	tests := []struct {
		policy record.RestartPolicy
		st     record.State
		code   int
		want   bool
	}{
		{record.RestartPolicy{Name: "no"}, record.State{}, 1, false},
		{record.RestartPolicy{Name: "always"}, record.State{}, 0, true},
		{record.RestartPolicy{Name: "always"}, record.State{StopRequested: true}, 0, false},
		{record.RestartPolicy{Name: "on-failure"}, record.State{}, 0, false},
		{record.RestartPolicy{Name: "on-failure"}, record.State{}, 2, true},
		{record.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}, record.State{RestartCount: 2}, 1, true},
		{record.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}, record.State{RestartCount: 3}, 1, false},
	}
	for _, tc := range tests {
		if got := shouldRestart(tc.policy, tc.st, tc.code); got != tc.want {
			t.Errorf("%+v with %+v exit %d: restart = %v", tc.policy, tc.st, tc.code, got)
		}
	}
}

func TestHostsFile(t *testing.T) {
	hosts := hostsFile("box", "10.9.0.2", []string{"db:10.1.2.3", "gw:host-gateway"}, netip.MustParseAddr("10.9.0.1"))
	if !strings.HasSuffix(hosts, "\n10.1.2.3\tdb\n10.9.0.1\tgw\n10.9.0.2\tbox\n") {
		t.Errorf("hosts:\n%s", hosts)
	}
	if hosts := hostsFile("box.corp.test", "10.9.0.2", nil, netip.Addr{}); !strings.HasSuffix(hosts, "\n10.9.0.2\tbox.corp.test box\n") {
		t.Errorf("a domain name: the full and the bare name, as Docker writes them:\n%s", hosts)
	}
	if hosts := hostsFile("box", "127.0.1.1", []string{"gw:host-gateway"}, netip.Addr{}); strings.Contains(hosts, "gw") {
		t.Errorf("host-gateway without a network:\n%s", hosts)
	}
}

func TestResolvConf(t *testing.T) {
	host := []byte("# systemd-resolved\nnameserver 127.0.0.53\nsearch corp.example\noptions edns0 trust-ad\n")
	for _, tc := range []struct {
		h    record.HostConfig
		mode dnsMode
		want string
	}{
		{record.HostConfig{}, hostDNS, "nameserver 127.0.0.53\nsearch corp.example\noptions edns0 trust-ad\n"},
		{record.HostConfig{}, bridgeDNS, "nameserver 8.8.8.8\nnameserver 8.8.4.4\nsearch corp.example\noptions edns0 trust-ad\n"},
		{record.HostConfig{DNS: []string{"10.0.0.53"}, DNSSearch: []string{"."}, DNSOptions: []string{"ndots:2"}}, bridgeDNS, "nameserver 10.0.0.53\noptions ndots:2\n"},
		{record.HostConfig{DNSSearch: []string{"a.example", "b.example"}}, hostDNS, "nameserver 127.0.0.53\nsearch a.example b.example\noptions edns0 trust-ad\n"},
		// the embedded resolver: the user's servers are its upstreams
		{record.HostConfig{}, embeddedDNS, "nameserver 127.0.0.11\nsearch corp.example\noptions ndots:0 edns0 trust-ad\n"},
		{record.HostConfig{DNS: []string{"10.0.0.53"}, DNSOptions: []string{"ndots:2"}}, embeddedDNS, "nameserver 127.0.0.11\nsearch corp.example\noptions ndots:2\n"},
	} {
		if got := resolvConf(host, tc.h, tc.mode); got != tc.want {
			t.Errorf("%+v mode %d:\n%s\nwant:\n%s", tc.h, tc.mode, got, tc.want)
		}
	}
	// a host nameserver the network can reach is kept
	if got := resolvConf([]byte("nameserver 127.0.0.53\nnameserver 192.0.2.53\n"), record.HostConfig{}, bridgeDNS); got != "nameserver 192.0.2.53\n" {
		t.Errorf("mixed: %q", got)
	}
}
