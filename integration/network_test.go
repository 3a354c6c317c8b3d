package integration

import (
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
)

// TestNetworkCommands: network create makes a bridge with the gateway's
// address, ls and inspect show it, clashes are refused with nothing made,
// and rm removes the bridge.
func TestNetworkCommands(t *testing.T) {
	requireRoot(t)
	root, dir := t.TempDir(), t.TempDir()
	env := []string{"BERTH_ADDRESS_POOLS=10.201.0.0/16/24"}
	run := func(args ...string) result {
		t.Helper()
		return berthEnv(t, dir, env, "", append([]string{"--root", root}, args...)...)
	}
	t.Cleanup(func() {
		for _, id := range strings.Fields(run("network", "ls", "-q").stdout) {
			run("network", "rm", id)
		}
	})
	web := strings.TrimSpace(run("network", "create", "--subnet", "10.202.0.0/24", "--gateway", "10.202.0.254", "--label", "tier=front", "web").stdout)
	auto := strings.TrimSpace(run("network", "create", "-o", "com.docker.network.bridge.name=br-berth-it", "auto").stdout)
	if len(web) != 64 || len(auto) != 64 {
		t.Fatalf("create printed %q and %q, want IDs", web, auto)
	}
	for bridge, want := range map[string]string{"br-" + web[:12]: "10.202.0.254/24", "br-berth-it": "10.201.0.1/24"} {
		link, err := netlink.LinkByName(bridge)
		if err != nil {
			t.Errorf("bridge %s: %v", bridge, err)
			continue
		}
		addrs, _ := netlink.AddrList(link, netlink.FAMILY_V4)
		if len(addrs) != 1 || addrs[0].IPNet.String() != want {
			t.Errorf("bridge %s has %v, want %s", bridge, addrs, want)
		}
	}
	if ls := run("network", "ls").stdout; !strings.Contains(ls, web[:12]+"   web       bridge    local") {
		t.Errorf("ls:\n%s", ls)
	}
	got := run("network", "inspect", "-f", "{{.Name}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} {{.Labels.tier}}", "web", auto[:8]).stdout
	if got != "web 10.202.0.0/24 10.202.0.254 front\nauto 10.201.0.0/24 10.201.0.1 <no value>\n" {
		t.Errorf("inspect: %q", got)
	}
	for _, bad := range [][]string{
		{"network", "create", "web"},
		{"network", "create", "--subnet", "10.202.0.128/25", "clash"},
		{"network", "create", "--subnet", "10.203.0.0/24", "--gateway", "10.9.9.9", "clash"},
		{"network", "create", "-d", "overlay", "clash"},
	} {
		if r := run(bad...); r.code == 0 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, %q", bad, r.code, r.stderr)
		}
	}
	if ls := run("network", "ls", "-q").stdout; strings.Count(ls, "\n") != 2 {
		t.Errorf("a refused create left a network:\n%s", ls)
	}
	if r := run("network", "rm", "web", "auto"); r.code != 0 || r.stdout != "web\nauto\n" {
		t.Errorf("rm: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	for _, bridge := range []string{"br-" + web[:12], "br-berth-it"} {
		if _, err := netlink.LinkByName(bridge); err == nil {
			t.Errorf("bridge %s is left after rm", bridge)
		}
	}
	if r := run("network", "rm", "web"); r.code == 0 || !strings.Contains(r.stderr, "network web not found") {
		t.Errorf("rm of a removed network: exit %d, %q", r.code, r.stderr)
	}
	if r := run("network", "rm", "-f", "web"); r.code != 0 {
		t.Errorf("rm -f of a removed network: exit %d, %q", r.code, r.stderr)
	}
}
