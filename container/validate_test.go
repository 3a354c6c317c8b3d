package container

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/netns"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/runtime"
)

// TestValidate: each rule of the one check both the CLI's flags and the
// compose converter go through, and the cases where they had drifted,
// settled as Docker does.
func TestValidate(t *testing.T) {
	ip := netip.MustParseAddr
	for _, c := range []struct {
		name string
		set  func(o *CreateOptions)
		want string // "": accepted
	}{
		{"nothing", func(o *CreateOptions) {}, ""},
		// drifts: json-file keeps one unbounded file when max-file comes
		// without max-size; --cpus -1 is Docker daemon's range error
		{"max-file without max-size", func(o *CreateOptions) { o.LogMaxFile = 3 }, ""},
		{"max-file and max-size", func(o *CreateOptions) { o.LogMaxFile, o.LogMaxSize = 3, 1024 }, ""},
		{"negative max-file", func(o *CreateOptions) { o.LogMaxFile = -1 }, "max-file cannot be less than 1"},
		{"negative max-size", func(o *CreateOptions) { o.LogMaxSize = -1 }, "max-size must be a positive number"},
		{"cpus -1", func(o *CreateOptions) { o.Resources.NanoCPUs = -1e9 }, "range of CPUs is from 0.01 to"},
		{"cpus 0.5", func(o *CreateOptions) { o.Resources.NanoCPUs = 5e8 }, ""},
		{"cpu shares", func(o *CreateOptions) { o.Resources.CPUShares = -1 }, "invalid value -1 for CPU shares"},
		{"restart and rm", func(o *CreateOptions) {
			o.AutoRemove, o.Restart = true, record.RestartPolicy{Name: "always"}
		}, "conflicting options: cannot specify both --restart and --rm"},
		{"restart no and rm", func(o *CreateOptions) { o.AutoRemove, o.Restart = true, record.RestartPolicy{Name: "no"} }, ""},
		{"unknown restart", func(o *CreateOptions) { o.Restart = record.RestartPolicy{Name: "sometimes"} }, `invalid restart policy "sometimes"`},
		{"retries without on-failure", func(o *CreateOptions) { o.Restart = record.RestartPolicy{Name: "always", MaximumRetryCount: 2} }, "maximum retry count can only be used with 'on-failure'"},
		{"host and none", func(o *CreateOptions) { o.HostNetwork, o.NoNetwork = true, true }, "network modes cannot be combined"},
		{"host and a network", func(o *CreateOptions) { o.HostNetwork, o.Networks = true, []string{"n"} }, "network modes cannot be combined"},
		{"container and ports", func(o *CreateOptions) {
			o.NetworkContainer, o.Ports = "c", []netns.PortMapping{{Port: 80, Proto: "tcp"}}
		}, "conflicting options: --network container:c shares"},
		{"container and hostname", func(o *CreateOptions) { o.NetworkContainer, o.Hostname = "c", "h" }, "conflicting options: --network container:c shares"},
		{"links with host networking", func(o *CreateOptions) { o.HostNetwork, o.Links = true, []Link{{Name: "db"}} }, "links are not supported with host or container networking"},
		{"aliases without a network", func(o *CreateOptions) { o.NoNetwork, o.Aliases = true, []string{"a"} }, "network-scoped aliases are only supported for user-defined networks"},
		{"mac without a network", func(o *CreateOptions) { o.HostNetwork, o.MacAddress = true, "02:42:ac:11:00:02" }, "--mac-address needs a network"},
		{"ports without a network", func(o *CreateOptions) { o.NoNetwork, o.Ports = true, []netns.PortMapping{{Port: 80, Proto: "tcp"}} }, "publishing ports needs a network"},
		{"ipv6 --ip", func(o *CreateOptions) { o.IP = ip("fe80::1") }, "invalid IPv4 address: fe80::1"},
		{"cgroupns", func(o *CreateOptions) { o.CgroupNS = "shared" }, `invalid cgroup namespace mode "shared"`},
		{"cgroupns host", func(o *CreateOptions) { o.CgroupNS = runtime.Host }, ""},
		{"pid mode", func(o *CreateOptions) { o.Namespaces.PID = NamespaceMode{Mode: "private"} }, `invalid --pid mode "private"`},
		{"pid of a container", func(o *CreateOptions) { o.Namespaces.PID = NamespaceMode{Container: "c"} }, ""},
		{"pid of no container", func(o *CreateOptions) { o.Namespaces.PID = ParseNamespaceMode("container:") }, `invalid --pid mode "container:"`},
		{"ipc shareable", func(o *CreateOptions) { o.Namespaces.IPC = NamespaceMode{Mode: "shareable"} }, ""},
		{"ipc mode", func(o *CreateOptions) { o.Namespaces.IPC = NamespaceMode{Mode: "mine"} }, `invalid --ipc mode "mine"`},
		{"uts mode", func(o *CreateOptions) { o.Namespaces.UTS = "private" }, `invalid --uts mode "private"`},
		{"uts host and hostname", func(o *CreateOptions) { o.Namespaces.UTS, o.Hostname = runtime.Host, "h" }, "conflicting options: hostname and the UTS mode"},
		{"empty link", func(o *CreateOptions) { o.Links = []Link{{Alias: "a"}} }, "empty string specified for links"},
		{"volumes-from mode", func(o *CreateOptions) { o.VolumesFrom = []VolumeFrom{{Container: "c", Mode: "z"}} }, `invalid --volumes-from "c:z"`},
		{"volumes-from ro", func(o *CreateOptions) { o.VolumesFrom = []VolumeFrom{{Container: "c", Mode: "ro"}} }, ""},
		{"volumes-from nothing", func(o *CreateOptions) { o.VolumesFrom = []VolumeFrom{{Mode: "ro"}} }, "volumes-from specification cannot be an empty string"},
		{"extra host without IP", func(o *CreateOptions) { o.ExtraHosts = []ExtraHost{{Name: "db"}} }, "bad format for add-host"},
		{"extra host gateway", func(o *CreateOptions) { o.ExtraHosts = []ExtraHost{{Name: "gw", Gateway: true}} }, ""},
		{"dns", func(o *CreateOptions) { o.DNS = []string{"resolver"} }, "resolver is not an ip address"},
		{"published udp", func(o *CreateOptions) { o.Ports = []netns.PortMapping{{Port: 53, Proto: "udp", HostPort: 5353}} }, ""},
		{"published sctp", func(o *CreateOptions) { o.Ports = []netns.PortMapping{{Port: 80, Proto: "sctp"}} }, "the protocol must be tcp or udp"},
		{"published port 0", func(o *CreateOptions) { o.Ports = []netns.PortMapping{{Proto: "tcp"}} }, "invalid published port 0/tcp"},
		{"published on ipv6", func(o *CreateOptions) { o.Ports = []netns.PortMapping{{Port: 80, Proto: "tcp", HostIP: ip("::1")}} }, "IPv4 addresses only"},
		{"backwards host range", func(o *CreateOptions) {
			o.Ports = []netns.PortMapping{{Port: 80, Proto: "tcp", HostPort: 90, HostPortEnd: 85}}
		}, "backwards"},
		{"exposed with a host port", func(o *CreateOptions) { o.Expose = []netns.PortMapping{{Port: 80, Proto: "tcp", HostPort: 80}} }, "invalid exposed port"},
		{"relative workdir", func(o *CreateOptions) { o.WorkDir = "app" }, `the working directory "app" is invalid`},
		{"stop signal", func(o *CreateOptions) { o.StopSignal = "SIGNOPE" }, "invalid signal: SIGNOPE"},
		{"stop signal by number", func(o *CreateOptions) { o.StopSignal = "9" }, ""},
	} {
		o := CreateOptions{Image: "x"}
		c.set(&o)
		err := o.Validate()
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: refused: %v", c.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
		if !errors.Is(err, ErrInvalid) || !errors.Is(err, errclass.ErrInvalid) {
			t.Errorf("%s: %v is not classed invalid", c.name, err)
		}
	}
}

// TestLogOpt: --log-opt and compose's logging.options, one parser, as
// Docker's json-file driver reads them.
func TestLogOpt(t *testing.T) {
	for _, c := range []struct {
		key, value string
		size       int64
		files      int
		want       string
	}{
		{"max-size", "1k", 1024, 0, ""},
		{"max-file", "3", 0, 3, ""}, // without max-size: accepted, one unbounded file
		{"max-file", "0", 0, 0, "max-file cannot be less than 1"},
		{"max-file", "x", 0, 0, "max-file: "},
		{"max-size", "0", 0, 0, "max-size must be a positive number"},
		{"max-size", "lots", 0, 0, "max-size: "},
		{"compress", "true", 0, 0, "unknown log opt 'compress' for json-file log driver"},
	} {
		var o CreateOptions
		err := o.LogOpt(c.key, c.value)
		if c.want == "" && (err != nil || o.LogMaxSize != c.size || o.LogMaxFile != c.files) {
			t.Errorf("%s=%s: %v, size %d, files %d", c.key, c.value, err, o.LogMaxSize, o.LogMaxFile)
		}
		if c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrInvalid)) {
			t.Errorf("%s=%s: %v, want %q", c.key, c.value, err, c.want)
		}
	}
}

// TestSecurityOptNoNewPrivileges: no-new-privileges:false is Docker's
// too: privileges may be gained, as without the option.
func TestSecurityOptNoNewPrivileges(t *testing.T) {
	for in, want := range map[string]bool{"no-new-privileges": true, "no-new-privileges:true": true, "no-new-privileges=true": true,
		"no-new-privileges:false": false, "no-new-privileges=false": false} {
		o := CreateOptions{NoNewPrivileges: !want}
		if err := o.SecurityOpt(in, nil); err != nil || o.NoNewPrivileges != want {
			t.Errorf("%s: %v, no-new-privileges %v", in, err, o.NoNewPrivileges)
		}
	}
	var o CreateOptions
	if err := o.SecurityOpt("apparmor=x", nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("apparmor: %v", err)
	}
}

func TestParseLink(t *testing.T) {
	for in, want := range map[string]string{
		"db": "{db }", "db:database": "{db database}", "/db:/web/database": "{db database}",
		"": "empty string specified for links", "a:b:c": "bad format for links: a:b:c",
	} {
		l, err := ParseLink(in)
		got := fmt.Sprint(l)
		if err != nil {
			got = err.Error()
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%q: %v is not classed invalid", in, err)
			}
		}
		if got != want {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
	if got := (Link{Name: "db"}).record("p-db-1"); got != "p-db-1:p-db-1" {
		t.Errorf("a link without an alias: %s", got)
	}
}

func TestParseVolumeFrom(t *testing.T) {
	for in, want := range map[string]string{
		"data": "{data }", "data:ro": "{data ro}", "data:rw": "{data rw}",
		"data:z": `invalid --volumes-from "data:z": the mode must be ro or rw`, "": "volumes-from specification cannot be an empty string",
	} {
		v, err := ParseVolumeFrom(in)
		got := fmt.Sprint(v)
		if err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
}

func TestParseAddHost(t *testing.T) {
	for in, want := range map[string]string{
		"db:10.1.2.3": "db:10.1.2.3", "db=10.1.2.3": "db:10.1.2.3", "v6:::1": "v6:::1", "v6=[fe80::1]": "v6:fe80::1",
		"gw:host-gateway": "gw:host-gateway", "db": "", ":10.1.2.3": "", "db:nope": "",
	} {
		h, err := ParseAddHost(in)
		if (err != nil) != (want == "") || err == nil && h.String() != want {
			t.Errorf("%q: %v, %v; want %q", in, h, err, want)
		}
	}
}

func TestParseExpose(t *testing.T) {
	for in, want := range map[string]string{
		"80": "[80/tcp]", "53/udp": "[53/udp]", "8000-8002": "[8000/tcp 8001/tcp 8002/tcp]",
		"80:80": "", "x": "", "80/sctp": "",
	} {
		ms, err := ParseExpose(in)
		var got []string
		for _, m := range ms {
			got = append(got, fmt.Sprintf("%d/%s", m.Port, m.Proto))
		}
		if (err != nil) != (want == "") || err == nil && fmt.Sprint(got) != want {
			t.Errorf("%q: %v, %v; want %s", in, got, err, want)
		}
	}
}

func TestParseNamespaceMode(t *testing.T) {
	for in, want := range map[string]NamespaceMode{"": {}, "host": {Mode: "host"}, "container:db": {Container: "db"}, "shareable": {Mode: "shareable"}} {
		if got := ParseNamespaceMode(in); got != want || got.String() != in {
			t.Errorf("%q: %+v (%s)", in, got, got)
		}
	}
}

// The fuzz tests: the CLI's string parsers never panic, and what they
// accept Validate accepts too, and reads back the same.

func FuzzParseLink(f *testing.F) {
	for _, s := range []string{"db", "db:alias", "/db:/web/alias", "", "a:b:c", ":", "/:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLink(s)
		if err != nil {
			return
		}
		o := CreateOptions{Links: []Link{l}}
		if err := o.Validate(); err != nil && l.Name != "" {
			t.Errorf("%q parsed as %+v, refused: %v", s, l, err)
		}
		if !strings.HasPrefix(s, "/") && l.Name != "" {
			back := l.Name
			if l.Alias != "" || strings.HasSuffix(s, ":") {
				back += ":" + l.Alias
			}
			if back != s {
				t.Errorf("%q parsed as %+v", s, l)
			}
		}
	})
}

func FuzzParseVolumeFrom(f *testing.F) {
	for _, s := range []string{"data", "data:ro", "data:rw", "data:z", "", ":ro", "a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVolumeFrom(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%q: %v is not classed invalid", s, err)
			}
			return
		}
		o := CreateOptions{VolumesFrom: []VolumeFrom{v}}
		if err := o.Validate(); err != nil {
			t.Errorf("%q parsed as %+v, refused: %v", s, v, err)
		}
		if v.Container == "" || v.Mode != "" && v.Mode != "ro" && v.Mode != "rw" {
			t.Errorf("%q parsed as %+v", s, v)
		}
	})
}

func FuzzParseAddHost(f *testing.F) {
	for _, s := range []string{"db:10.1.2.3", "db=10.1.2.3", "v6:::1", "v6=[fe80::1]", "gw:host-gateway", "db", ":1.2.3.4", "a=b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseAddHost(s)
		if err != nil {
			return
		}
		o := CreateOptions{ExtraHosts: []ExtraHost{h}}
		if err := o.Validate(); err != nil {
			t.Errorf("%q parsed as %+v, refused: %v", s, h, err)
		}
		// the record's NAME:IP reads back the same when the name has no
		// colon (Docker's NAME=IP form allows one)
		if !strings.Contains(h.Name, ":") {
			if back, err := ParseAddHost(h.String()); err != nil || back != h {
				t.Errorf("%q: %s reads back as %+v, %v", s, h, back, err)
			}
		}
	})
}

func FuzzParseExpose(f *testing.F) {
	for _, s := range []string{"80", "53/udp", "8000-8010/tcp", "80:80", "0", "65535", "1-65535", "x/tcp"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := ParseExpose(s)
		if err != nil {
			return
		}
		o := CreateOptions{Expose: ms}
		if err := o.Validate(); err != nil {
			t.Errorf("%q parsed as %v, refused: %v", s, ms, err)
		}
	})
}

func TestParseBlockIO(t *testing.T) {
	if d, err := ParseWeightDevice("/dev/sda:200"); err != nil || d.Path != "/dev/sda" || d.Weight != 200 {
		t.Errorf("weight device: %+v, %v", d, err)
	}
	if d, err := ParseThrottle("/dev/sda:1mb", true); err != nil || d.Rate != 1<<20 {
		t.Errorf("bps: %+v, %v", d, err)
	}
	if d, err := ParseThrottle("/dev/sda:100", false); err != nil || d.Rate != 100 {
		t.Errorf("iops: %+v, %v", d, err)
	}
	for _, bad := range []string{"sda:200", "/dev/sda", "/dev/sda:x", "/dev/sda:70000"} {
		if _, err := ParseWeightDevice(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("weight device %q: %v", bad, err)
		}
	}
	for _, bad := range []string{"/dev/sda:-1", "/dev/sda:1mb"} {
		if _, err := ParseThrottle(bad, false); !errors.Is(err, ErrInvalid) {
			t.Errorf("iops %q: %v", bad, err)
		}
	}
}
