package engine

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/netns"
)

// TestConvertOnceForReplicas: a service is converted once for all its
// containers; each replica differs only in its name, number and the
// anonymous volumes it takes over, and what a create may change of one
// (labels, mounts, aliases) is not another's.
func TestConvertOnceForReplicas(t *testing.T) {
	p := load(t, `name: r
services:
  web:
    image: x
    scale: 3
    network_mode: host
    ports: ["80:80"]
    volumes: [/cache, data:/data]
    labels: {team: a}
volumes:
  data: {}
`)
	s, _ := p.GetService("web")
	c, err := convert(p, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.warnings) != 1 {
		t.Errorf("warnings kept for each container: %q", c.warnings)
	}
	var reps []string
	for n := 1; n <= 3; n++ {
		o := c.replica(p, s, n, map[string]string{"/cache": fmt.Sprint("anon", n)})
		var mounts []string
		for _, m := range o.Mounts {
			mounts = append(mounts, m.Source+":"+m.Target)
		}
		reps = append(reps, fmt.Sprintf("%s %s %s %v", o.Name, o.Labels[LabelNumber], o.Labels["team"], mounts))
		// what apply does to its copy
		o.Labels[LabelReplace] = "old"
		o.Mounts = append(o.Mounts[:1], o.Mounts...)
		o.Mounts[0].Source = "changed"
	}
	want := []string{"r-web-1 1 a [anon1:/cache r_data:/data]", "r-web-2 2 a [anon2:/cache r_data:/data]", "r-web-3 3 a [anon3:/cache r_data:/data]"}
	if !slices.Equal(reps, want) {
		t.Errorf("replicas:\n%s\nwant\n%s", strings.Join(reps, "\n"), strings.Join(want, "\n"))
	}
	if _, ok := c.opts.Labels[LabelReplace]; ok || c.opts.Mounts[0].Source != "" || len(c.opts.Mounts) != 2 {
		t.Errorf("a replica's create changed the service's settings: %v %+v", c.opts.Labels, c.opts.Mounts)
	}
	if hash := c.opts.Labels[LabelHash]; hash == "" {
		t.Error("no config hash label")
	}
}

// TestPortsTyped: compose's ports become mappings straight from compose's
// types, the same as the CLI's -p strings give.
func TestPortsTyped(t *testing.T) {
	p := load(t, `name: pt
services:
  a:
    image: x
    ports:
      - "8080:80"
      - "127.0.0.1:8081:81/udp"
      - "0.0.0.0:8082:82"
      - "90"
      - "127.0.0.1::91"
      - "9000-9002:92"
      - "9100-9101:100-101"
      - {target: 443, published: "8443", host_ip: 127.0.0.2, protocol: tcp}
`)
	s, _ := p.GetService("a")
	o, err := containerOptions(p, s, 1, "", nil, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	var want []netns.PortMapping
	for _, spec := range []string{"8080:80", "127.0.0.1:8081:81/udp", "0.0.0.0:8082:82", "90", "127.0.0.1::91", "9000-9002:92", "9100:100", "9101:101", "127.0.0.2:8443:443"} {
		ms, err := netns.ParsePorts(spec)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, ms...)
	}
	if fmt.Sprint(o.Ports) != fmt.Sprint(want) {
		t.Errorf("ports:\n%v\nwant\n%v", o.Ports, want)
	}
}

// TestVolumesFromTyped: volumes_from names a service's first container or
// a container, with a mode; container:NAME:MODE keeps both (before, it
// was read as a service named "container").
func TestVolumesFromTyped(t *testing.T) {
	p := load(t, `name: vf
services:
  a:
    image: x
    volumes_from: [b, "b:ro", "b:rw", "container:other", "container:other:ro"]
  b:
    image: x
`)
	s, _ := p.GetService("a")
	o, err := containerOptions(p, s, 1, "", nil, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(o.VolumesFrom); got != "[{vf-b-1 } {vf-b-1 ro} {vf-b-1 rw} {other } {other ro}]" {
		t.Errorf("volumes_from: %s", got)
	}
	if got := fmt.Sprint(o.ExtraHosts, o.Links); got != "[] []" {
		t.Errorf("extra hosts and links: %s", got)
	}
}
