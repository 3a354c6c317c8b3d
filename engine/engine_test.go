package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/internal/fixture"
	"github.com/berth-dev/berth/project"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/runtime"
)

// load reads a compose file of the test's own.
func load(t *testing.T, yaml string) *project.Project {
	t.Helper()
	dir := fixture.Dir(t, map[string]string{"compose.yaml": yaml})
	p, err := project.Load(context.Background(), project.Options{Files: []string{filepath.Join(dir, "compose.yaml")}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestContainerOptions: a service's keys arrive in the container's
// options as `container create` would take them, with compose's labels.
func TestContainerOptions(t *testing.T) {
	p := load(t, `name: shop
services:
  web:
    image: nginx:1
    command: ["serve", "--port", "80"]
    environment: {B: "2", A: "1"}
    ports: ["127.0.0.1:8080:80", "9000-9001:9000-9001/udp"]
    networks:
      front: {aliases: [www], ipv4_address: 10.5.0.9}
    volumes: [data:/data, /cache, ./site:/site:ro]
    deploy:
      restart_policy: {condition: on-failure, max_attempts: 3}
      resources: {limits: {cpus: "0.5", memory: 64m}}
    stop_grace_period: 3s
    hostname: front
    domainname: shop.test
    links: [db:database]
    external_links: [outside:ext]
    pid: service:db
    ipc: host
    cgroup: host
    device_cgroup_rules: ["c 42:* rmw"]
    annotations: {org.example.key: value}
    cpu_rt_period: 1000000
    cpu_rt_runtime: 950000
    mem_swappiness: 20
    oom_kill_disable: true
    userns_mode: host
    runtime: runc
    depends_on: {db: {condition: service_healthy}}
    healthcheck: {test: "wget -q localhost", interval: 2s, retries: 4}
  db:
    image: db:1
networks:
  front: {ipam: {config: [{subnet: 10.5.0.0/24}]}}
volumes:
  data: {}
`)
	s, _ := p.GetService("web")
	o, err := containerOptions(p, s, 2, "HASH", map[string]string{"/cache": "anon123"}, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: %v, want %v", what, got, want)
		}
	}
	check("name", o.Name, "shop-web-2")
	check("image", o.Image, "nginx:1")
	check("cmd", o.Cmd, "[serve --port 80]")
	check("env", o.Env, "[A=1 B=2]")
	check("restart", o.Restart, "{on-failure 3}")
	check("host name", o.Hostname+" "+o.Domainname, "front shop.test")
	check("stop timeout", *o.StopTimeout, 3)
	check("cpus", o.Resources.NanoCPUs, 500000000)
	check("memory", o.Resources.Memory, 64<<20)
	check("networks", o.Networks, "[shop_front]")
	check("aliases", o.NetworkAliases["shop_front"], "[web www]")
	check("endpoints", o.Endpoints["shop_front"].IPv4Address, "10.5.0.9")
	check("ports", len(o.Ports), 3)
	check("first port", fmt.Sprintf("%v:%d->%d/%s", o.Ports[0].HostIP, o.Ports[0].HostPort, o.Ports[0].Port, o.Ports[0].Proto), "127.0.0.1:8080->80/tcp")
	check("links", o.Links, "[{shop-db-1 database} {outside ext}]")
	check("namespaces", o.Namespaces, "{container:shop-db-1 host }")
	check("cgroup", o.CgroupNS+" "+runtime.FormatDeviceRule(o.DeviceCgroupRules[0]), "host c 42:* rmw")
	check("annotations", o.Annotations, "map[org.example.key:value]")
	check("realtime", fmt.Sprint(o.Resources.CPURealtimePeriod, o.Resources.CPURealtimeRuntime), "1000000 950000")
	check("memory knobs", fmt.Sprint(*o.Resources.MemorySwappiness, o.Resources.OOMKillDisable), "20 true")
	check("health", fmt.Sprint(o.Healthcheck.Test, o.Healthcheck.Interval, o.Healthcheck.Retries), "[CMD-SHELL wget -q localhost] 2s 4")
	for k, v := range map[string]string{LabelProject: "shop", LabelService: "web", LabelNumber: "2", LabelOneoff: "False", LabelHash: "HASH",
		LabelDependsOn: "db:service_healthy:false", LabelVersion: ComposeVersion} {
		check("label "+k, o.Labels[k], v)
	}
	var mounts []string
	for _, m := range o.Mounts {
		mounts = append(mounts, fmt.Sprintf("%s:%s:%s:%v", m.Type, filepath.Base(m.Source), m.Target, m.ReadOnly))
	}
	check("mounts", mounts, "[volume:shop_data:/data:false volume:anon123:/cache:false bind:site:/site:true]")
}

// TestContainerOptionsRefused: what berth cannot do is refused, naming
// the service.
func TestContainerOptionsRefused(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"services:\n  a: {image: x, security_opt: [apparmor=x]}\n", `service "a": security option "apparmor=x" is not supported yet`},
		{"services:\n  a: {image: x, logging: {driver: syslog}}\n", `service "a": logging driver "syslog" is not supported`},
		{"services:\n  a: {image: x, network_mode: \"service:b\"}\n  b: {image: x, network_mode: \"service:a\"}\n", "cycle"},
		{"services:\n  a: {image: x, pid: \"service:b\"}\n  b: {image: x, ipc: \"service:a\"}\n", "cycle"},
		{"services:\n  a: {image: x, userns_mode: \"keep-id\"}\n", `service "a": userns_mode "keep-id" is not supported`},
		{"services:\n  a: {image: x, runtime: kata}\n", `service "a": runtime "kata" is not supported`},
		{"services:\n  a: {image: x, cpus: 1, cpu_quota: 5000}\n", `service "a": conflicting options: Nano CPUs and CPU Quota cannot both be set`},
		// the ranges `container create` refuses, refused alike
		{"services:\n  a: {image: x, cpus: -1}\n", `service "a": range of CPUs is from 0.01 to`},
		{"services:\n  a: {image: x, cpus: 100000}\n", `service "a": range of CPUs is from 0.01 to`},
		{"services:\n  a: {image: x, deploy: {resources: {limits: {cpus: '-0.5'}}}}\n", `service "a": range of CPUs is from 0.01 to`},
		{"services:\n  a: {image: x, cpu_shares: -1}\n", `service "a": invalid value -1 for CPU shares`},
		{"services:\n  a: {image: x, cpu_period: -1}\n", `service "a": CPU cfs period can not be less than 1ms`},
		{"services:\n  a: {image: x, cpu_quota: 10}\n", `service "a": CPU cfs quota can not be less than 1ms`},
		{"services:\n  a: {image: x, mem_limit: 1k}\n", `service "a": minimum memory limit allowed is 6MB`},
		{"services:\n  a: {image: x, mem_limit: 8m, mem_reservation: 16m}\n", `service "a": minimum memory limit can not be less than memory reservation limit`},
		{"services:\n  a: {image: x, mem_swappiness: 200}\n", `service "a": invalid value: 200, valid memory swappiness range is 0-100`},
		// the log and security options `container create` refuses, refused alike
		{"services:\n  a: {image: x, logging: {options: {max-file: '0'}}}\n", `service "a": max-file cannot be less than 1`},
		{"services:\n  a: {image: x, security_opt: [\"seccomp=nope.json\"]}\n", `service "a": opening seccomp profile (nope.json) failed`},
	} {
		dir := fixture.Dir(t, map[string]string{"compose.yaml": "name: r\n" + c.yaml})
		p, err := project.Load(context.Background(), project.Options{Files: []string{filepath.Join(dir, "compose.yaml")}})
		if err == nil {
			s, _ := p.GetService("a")
			_, err = containerOptions(p, s, 1, "", nil, func(string) {})
			if err == nil {
				_, err = project.NewGraph(p.Project)
			}
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.yaml, err, c.want)
		}
	}
}

func fakeMember(service string, n int, hash string, running bool) api.Member {
	st := record.State{Status: record.Exited}
	if running {
		st.Status = record.Running
	}
	name := fmt.Sprintf("p-%s-%d", service, n)
	return api.Member{Entry: record.Entry{Record: record.Record{ID: name + "-id", Name: name}, State: st},
		Service: service, Number: n, Hash: hash}
}

// TestPlan: one step and one reason per container, for each case a
// second up meets.
func TestPlan(t *testing.T) {
	p := load(t, "name: p\nservices:\n  web:\n    image: x\n    environment: {A: \"2\"}\n")
	s, _ := p.GetService("web")
	hash, _ := project.ServiceHash(s)
	m, err := container.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := New(t.TempDir(), m)
	old := s
	old.Environment = map[string]*string{"A": new("1")}
	if err := e.remember("p", old); err != nil {
		t.Fatal(err)
	}
	render := func(steps []Step) string {
		var out []string
		for _, st := range steps {
			out = append(out, fmt.Sprintf("%s %s (%s)", st.Container, st.Action, st.Reason))
		}
		return strings.Join(out, "; ")
	}
	for _, c := range []struct {
		what    string
		current []api.Member
		o       api.UpOptions
		force   bool
		want    string
	}{
		{"nothing yet", nil, api.UpOptions{}, false, "p-web-1 create (missing)"},
		{"up to date", []api.Member{fakeMember("web", 1, hash, true)}, api.UpOptions{}, false, "p-web-1 keep (up to date)"},
		{"stopped", []api.Member{fakeMember("web", 1, hash, false)}, api.UpOptions{}, false, "p-web-1 start (not running)"},
		{"changed", []api.Member{fakeMember("web", 1, "old", true)}, api.UpOptions{}, false, "p-web-1 recreate (environment.A changed)"},
		{"changed, --no-recreate", []api.Member{fakeMember("web", 1, "old", true)}, api.UpOptions{NoRecreate: true}, false, "p-web-1 keep (up to date)"},
		{"forced", []api.Member{fakeMember("web", 1, hash, true)}, api.UpOptions{}, true, "p-web-1 recreate (forced)"},
		{"scale up: lowest free numbers", []api.Member{fakeMember("web", 2, hash, true)}, api.UpOptions{Scale: map[string]int{"web": 3}}, false,
			"p-web-2 keep (up to date); p-web-1 create (missing); p-web-3 create (missing)"},
		{"scale down: highest first", []api.Member{fakeMember("web", 1, hash, true), fakeMember("web", 2, hash, true), fakeMember("web", 3, hash, true)},
			api.UpOptions{Scale: map[string]int{"web": 1}}, false, "p-web-1 keep (up to date); p-web-2 remove (scaled down to 1); p-web-3 remove (scaled down to 1)"},
		{"another service's containers", []api.Member{fakeMember("db", 1, "x", true)}, api.UpOptions{}, false, "p-web-1 create (missing)"},
	} {
		steps, err := e.plan(p, s, c.current, c.o, c.force, "forced")
		if err != nil {
			t.Fatal(err)
		}
		if got := render(steps); got != c.want {
			t.Errorf("%s: %s\nwant: %s", c.what, got, c.want)
		}
	}
}

// TestLayers: stop and start order from the depends_on labels alone.
func TestLayers(t *testing.T) {
	mk := func(service, deps string) api.Member {
		return api.Member{Entry: record.Entry{Record: record.Record{Name: service,
			Config: record.Config{Labels: map[string]string{LabelDependsOn: deps}}}}, Service: service}
	}
	ms := []api.Member{mk("web", "api:service_healthy:false"), mk("api", "db:service_started:false,cache:service_started:true"), mk("db", ""), mk("cache", ""), mk("loner", "")}
	var got []string
	for _, layer := range layers(ms) {
		var names []string
		for _, m := range layer {
			names = append(names, m.Service)
		}
		slices.Sort(names)
		got = append(got, strings.Join(names, ","))
	}
	if strings.Join(got, " | ") != "cache,db,loner | api | web" {
		t.Errorf("layers: %v", got)
	}
	// a cycle still gives every container a layer
	cyc := []api.Member{mk("a", "b:service_started:false"), mk("b", "a:service_started:false")}
	if n := len(slices.Concat(layers(cyc)...)); n != 2 {
		t.Errorf("a cycle: %d containers placed, want 2", n)
	}
}

// TestChanges: the reason for a recreation names the fields that changed.
func TestChanges(t *testing.T) {
	e := New(t.TempDir(), nil)
	p := load(t, "name: p\nservices:\n  web:\n    image: x:2\n    environment: {A: \"1\", B: \"3\"}\n    labels: {l: v}\n")
	s, _ := p.GetService("web")
	if got := e.changes("p", s); got != "configuration changed" {
		t.Errorf("with no record: %q", got)
	}
	old := s
	old.Image = "x:1"
	old.Environment = map[string]*string{"A": new("1"), "B": new("2")}
	old.Labels = nil
	e.remember("p", old)
	if got := e.changes("p", s); got != "environment.B changed, image changed, labels.l changed" {
		t.Errorf("changes: %q", got)
	}
}

// TestHostPlatform: this machine's platform, in its spellings, is taken;
// any other is refused, since berth has no emulation.
func TestHostPlatform(t *testing.T) {
	host := "linux/" + goruntime.GOARCH
	other := map[string]string{"amd64": "linux/arm64", "arm64": "linux/amd64"}[goruntime.GOARCH]
	for platform, ok := range map[string]bool{"": true, host: true, strings.ToUpper(host): true, goruntime.GOARCH: true, host + "/v2": true,
		other: false, "windows/" + goruntime.GOARCH: false, "linux": false} {
		err := hostPlatform(types.ServiceConfig{Name: "web", ContainerSpec: types.ContainerSpec{Platform: platform}})
		if (err == nil) != ok || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("platform %q: %v, want accepted %t", platform, err, ok)
		}
	}
}

// TestHostNetworkPorts: ports with network_mode: host are dropped with a
// warning, as Docker's daemon does.
func TestHostNetworkPorts(t *testing.T) {
	p := load(t, "name: h\nservices:\n  a: {image: x, network_mode: host, ports: [\"80:80\"]}\n")
	s, _ := p.GetService("a")
	var warnings []string
	if _, err := containerOptions(p, s, 1, "", nil, func(w string) { warnings = append(warnings, w) }); err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], `service "a": published ports are discarded when using host network mode`) {
		t.Errorf("warnings: %q", warnings)
	}
}

// TestServiceNameAlias: use_service_name_alias: false leaves the service's
// name out of a network's DNS names, its own aliases in.
func TestServiceNameAlias(t *testing.T) {
	p := load(t, "name: a\nservices:\n  web:\n    image: x\n    networks:\n      front: {aliases: [www], use_service_name_alias: false}\n      back: {}\nnetworks:\n  front: {}\n  back: {}\n")
	s, _ := p.GetService("web")
	o, err := containerOptions(p, s, 1, "", nil, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(o.NetworkAliases["a_front"], o.NetworkAliases["a_back"]); got != "[www] [web]" {
		t.Errorf("aliases: %s, want [www] on front and [web] on back", got)
	}
}

// TestSecurityOptSharedWithCLI: compose's security_opt goes through the
// parser `container create` uses: no-new-privileges:false is accepted
// (and leaves it off), and a seccomp profile is read from the project's
// directory, as docker compose reads it.
func TestSecurityOptSharedWithCLI(t *testing.T) {
	profile := `{"defaultAction": "SCMP_ACT_ALLOW"}`
	dir := fixture.Dir(t, map[string]string{
		"compose.yaml": "name: s\nservices:\n  a: {image: x, security_opt: [\"no-new-privileges:false\", \"seccomp=prof/p.json\"]}\n",
		"prof/p.json":  profile,
	})
	p, err := project.Load(context.Background(), project.Options{Files: []string{filepath.Join(dir, "compose.yaml")}})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := p.GetService("a")
	o, err := containerOptions(p, s, 1, "", nil, func(string) {})
	if err != nil || o.NoNewPrivileges || o.SeccompProfile != profile {
		t.Errorf("security_opt: no-new-privileges %v, profile %q, err %v", o.NoNewPrivileges, o.SeccompProfile, err)
	}
}

// TestProjects: compose ls lists the projects with a running container,
// each with its containers counted by status, or with -a every project
// and every container.
func TestProjects(t *testing.T) {
	p := load(t, downProject)
	f := newMachine()
	f.upAll(p, nil, []string{"api"})
	f.member(load(t, "name: q\nservices:\n  web: {image: \"web:1\"}\n"), "web", 1, "", false)
	e := f.engine(t)
	for _, c := range []struct {
		all  bool
		want string
	}{
		{false, "p: running(2)"},
		{true, "p: exited(1), running(2) | q: exited(1)"},
	} {
		stacks, err := e.Projects(context.Background(), c.all)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, st := range stacks {
			got = append(got, st.Name+": "+st.Status)
		}
		if strings.Join(got, " | ") != c.want {
			t.Errorf("projects (all %v): %q, want %q", c.all, strings.Join(got, " | "), c.want)
		}
	}
}
