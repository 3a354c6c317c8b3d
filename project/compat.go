package project

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/schema"
	"github.com/compose-spec/compose-go/v2/tree"
)

// Status says what berth does with a compose key.
type Status string

const (
	// Yes: berth does with the key what docker compose does.
	Yes Status = "yes"
	// Planned: loaded and rendered by `config`, but not acted on yet; an open
	// issue brings it. Commands that act warn about it.
	Planned Status = "planned"
	// No: loaded and rendered by `config`, not acted on, and not planned.
	// Commands that act warn about it.
	No Status = "no"
)

// Rule gives the status of every key under Path (a compose-go tree path, "*"
// for any name, "[]" for any list item), unless a longer rule says otherwise.
type Rule struct {
	Path   string
	Status Status
	Note   string
}

// Support is berth's compatibility table: the one place that says which
// compose keys berth honours. Keys no rule covers are No. Later issues flip
// rows to Yes as they land; docs/compose-compat.md is generated from it.
var Support = []Rule{
	{"name", Yes, "project name; -p and COMPOSE_PROJECT_NAME win over it"},
	{"version", Yes, "obsolete; accepted and ignored with a warning, as docker compose does"},
	{"include", Yes, "resolved by the loader"},
	{"services.*.extends", Yes, "resolved by the loader"},
	{"services.*.profiles", Yes, "--profile and COMPOSE_PROFILES select services"},

	{"services.*.depends_on", Yes, "service_started, service_completed_successfully, service_healthy; required: false"},
	{"services.*.depends_on.*.restart", Yes, "a recreated (up) or restarted (restart, but for --no-deps) dependency restarts the dependent"},
	{"services.*.healthcheck", Yes, "run by the container's monitor; ps and inspect show it"},
	{"services.*.deploy", Yes, "replicas, resources (cpus, memory, pids limits; memory reservation), restart_policy"},
	{"services.*.deploy.mode", Yes, "replicated, or global: one container, this host being the only node (as docker compose runs it)"},
	{"services.*.deploy.placement", No, "one host: no placement"},
	{"services.*.deploy.update_config", No, "swarm only"},
	{"services.*.deploy.rollback_config", No, "swarm only"},
	{"services.*.deploy.endpoint_mode", No, "swarm only"},
	{"services.*.deploy.labels", No, "swarm only"},
	{"services.*.deploy.resources.reservations.cpus", No, "a reservation the kernel has no knob for"},
	{"services.*.deploy.resources.reservations.devices", No, "no device requests (GPUs)"},
	{"services.*.deploy.resources.limits.devices", No, "no device requests (GPUs)"},
	{"services.*.deploy.resources.reservations.generic_resources", No, "swarm only"},
	{"services.*.deploy.restart_policy.delay", No, "Docker's back-off is used"},
	{"services.*.deploy.restart_policy.window", No, "Docker's back-off is used"},
	{"services.*.scale", Yes, "up --scale overrides it"},
	{"services.*.pid", Yes, "host, or service:NAME / container:NAME to share its PID namespace"},
	{"services.*.ipc", Yes, "private, shareable, none, host, or service:NAME / container:NAME (with its /dev/shm)"},
	{"services.*.uts", Yes, "host"},
	{"services.*.cgroup_parent", Yes, ""},
	{"services.*.cpu_period", Yes, ""},
	{"services.*.cpu_quota", Yes, ""},
	{"services.*.mem_swappiness", Yes, "cgroup v1 only, as in Docker"},
	{"services.*.oom_kill_disable", Yes, "cgroup v1 only, as in Docker"},
	{"services.*.cgroup", Yes, "host or private"},
	{"services.*.blkio_config", Yes, "weight, weight_device and the throttles; devices are host block devices"},
	{"services.*.device_cgroup_rules", Yes, ""},
	{"services.*.annotations", Yes, "the OCI spec's"},
	{"services.*.cpu_rt_period", Yes, "cgroup v1"},
	{"services.*.cpu_rt_runtime", Yes, "cgroup v1"},
	{"services.*.external_links", Yes, "containers outside the project, by name"},
	{"services.*.userns_mode", Yes, "host only: berth has no user namespaces; other modes are refused"},
	{"services.*.runtime", Yes, "runc only (libcontainer); other runtimes are refused"},
	{"services.*.cpu_count", No, "Windows only"},
	{"services.*.cpu_percent", No, "Windows only"},
	{"services.*.isolation", No, "Windows only"},
	{"services.*.credential_spec", No, "Windows only"},
	{"services.*.develop", Yes, "watch and up --watch: sync, sync+restart, sync+exec, restart and rebuild"},
	{"services.*.attach", Yes, "false keeps the service's logs out of an attached up unless --attach names it"},
	{"services.*.container_name", Yes, "refused with a scale above 1"},
	{"services.*.pull_policy", Yes, "always, missing (if_not_present), never, daily, weekly, every_<duration>, refresh, build (built at every up)"},
	{"services.*.pull_refresh_after", Yes, "with pull_policy: refresh"},
	{"services.*.secrets", Yes, "read-only at /run/secrets; uid, gid and mode honoured"},
	{"services.*.configs", Yes, "read-only at /NAME or the target; uid, gid and mode honoured"},
	{"services.*.post_start", Yes, "run as an exec after each start (and restart)"},
	{"services.*.pre_stop", Yes, "run as an exec before stop, down and recreation"},
	{"secrets", Yes, "file, environment and content; not external"},
	{"configs", Yes, "file, environment and content; not external"},
	{"secrets.*.external", No, "swarm only: docker compose skips them too"},
	{"configs.*.external", No, "swarm only: docker compose skips them too"},
	{"secrets.*.driver", No, "swarm only"},
	{"secrets.*.driver_opts", No, "swarm only"},
	{"secrets.*.template_driver", No, "swarm only"},
	{"configs.*.template_driver", No, "swarm only"},

	{"services.*.image", Yes, "pulled when missing, as pull_policy says"},
	{"services.*.command", Yes, ""},
	{"services.*.entrypoint", Yes, ""},
	{"services.*.environment", Yes, ""},
	{"services.*.env_file", Yes, "merged into environment by the loader"},
	{"services.*.working_dir", Yes, ""},
	{"services.*.user", Yes, "resolved in the image's /etc/passwd and /etc/group"},
	{"services.*.group_add", Yes, ""},
	{"services.*.hostname", Yes, ""},
	{"services.*.domainname", Yes, ""},
	{"services.*.tty", Yes, ""},
	{"services.*.stdin_open", Yes, ""},
	{"services.*.init", Yes, "berth-init, as /sbin/docker-init"},
	{"services.*.mem_limit", Yes, ""},
	{"services.*.memswap_limit", Yes, ""},
	{"services.*.mem_reservation", Yes, ""},
	{"services.*.cpus", Yes, ""},
	{"services.*.cpu_shares", Yes, ""},
	{"services.*.cpuset", Yes, ""},
	{"services.*.pids_limit", Yes, ""},
	{"services.*.shm_size", Yes, ""},
	{"services.*.ulimits", Yes, ""},
	{"services.*.sysctls", Yes, ""},
	{"services.*.oom_score_adj", Yes, ""},
	{"services.*.cap_add", Yes, ""},
	{"services.*.cap_drop", Yes, ""},
	{"services.*.privileged", Yes, ""},
	{"services.*.read_only", Yes, ""},
	{"services.*.devices", Yes, ""},
	{"services.*.stop_signal", Yes, ""},
	{"services.*.stop_grace_period", Yes, ""},
	{"services.*.labels", Yes, "with compose's com.docker.compose.* labels added"},
	{"services.*.label_file", Yes, "merged into labels by the loader"},
	{"services.*.logging", Yes, "json-file (and local) with max-size and max-file"},
	{"services.*.restart", Yes, ""},
	{"services.*.security_opt", Yes, "no-new-privileges (true or false), seccomp=unconfined and seccomp=PROFILE (a file of the project), parsed as container create parses --security-opt"},
	{"services.*.platform", Yes, "this machine's platform; another is refused (no emulation)"},

	{"services.*.networks", Yes, "aliases, ipv4_address, mac_address, interface_name, priority, gw_priority"},
	{"services.*.networks.*.ipv6_address", No, "berth's networks are IPv4"},
	{"services.*.networks.*.link_local_ips", No, "berth's networks are IPv4"},
	{"services.*.networks.*.driver_opts", No, "no per-endpoint driver options"},
	{"services.*.network_mode", Yes, "host, none, service:NAME, container:NAME, or a network"},
	{"services.*.ports", Yes, "kernel DNAT; a taken port is refused before anything is made"},
	{"services.*.expose", Yes, ""},
	{"services.*.dns", Yes, "the embedded resolver's upstreams"},
	{"services.*.dns_search", Yes, ""},
	{"services.*.dns_opt", Yes, ""},
	{"services.*.extra_hosts", Yes, ""},
	{"services.*.links", Yes, "aliases for the linking container"},
	{"services.*.mac_address", Yes, "the first network's interface"},
	{"networks", Yes, "bridge networks: driver_opts bridge name and mtu, ipam (one config), internal, external, labels"},
	{"networks.*.enable_ipv4", Yes, "true only: false is refused"},
	{"networks.*.ipam.driver", Yes, "default only: another is refused"},
	{"networks.*.ipam.options", No, "the default ipam driver takes none"},
	{"networks.*.enable_ipv6", No, "berth's networks are IPv4"},
	{"networks.*.attachable", No, "no swarm"},

	{"services.*.volumes", Yes, "volume, bind and tmpfs; anonymous volumes follow a recreated container"},
	{"services.*.volumes.[].image", No, "type image is refused: not yet"},
	{"services.*.volumes.[].volume.labels", No, "a volume gets its labels from the top-level volumes section"},
	{"services.*.volumes.[].bind.recursive", No, "binds are always recursive"},
	{"services.*.tmpfs", Yes, ""},
	{"services.*.volumes_from", Yes, "service:NAME, container:NAME, :ro"},
	{"volumes", Yes, "the local driver and its options; external volumes"},

	{"services.*.build", Yes, "built by berth's builder (BuildKit's Dockerfile frontend, steps in berth's runtime) by build, and by up, run and create when the image is missing, pull_policy is build or --build is given; named <project>-<service> unless image: is set"},
	{"services.*.build.context", Yes, "a directory; a git URL or a tarball is refused"},
	{"services.*.build.no_cache", Yes, "every step runs, none taken from the step cache (as build --no-cache)"},
	{"services.*.build.cache_from", Yes, "images here (REF or type=registry,ref=REF) that berth built with an inline cache record (args BUILDKIT_INLINE_CACHE=1, or image build --cache-to type=inline): a step missing from the step cache takes the layer such an image has of it; other kinds are passed over"},
	{"services.*.build.platforms", Yes, "this machine's platform only; another is refused (no emulation)"},
	{"services.*.build.network", Yes, "default (berth's default bridge network, with NAT and the host's nameservers), none or host; a network of the project is refused"},
	{"services.*.build.additional_contexts", Yes, "named contexts for FROM, COPY --from and RUN --mount=from: a directory (with its own .dockerignore), docker-image://REF (pulled when missing), service:NAME (that service's image, built first); a URL, git, target: and oci-layout:// are refused, naming the value"},
	{"services.*.build.extra_hosts", Yes, "the RUN steps' /etc/hosts; host-gateway is the default network's gateway"},
	{"services.*.build.shm_size", Yes, ""},
	{"services.*.build.ulimits", Yes, ""},
	{"services.*.build.secrets", Yes, "a project secret with file or environment, known to RUN --mount=type=secret by its target, else its name; never in a layer"},
	{"services.*.build.no_cache_filter", Yes, "the steps of the stages named run, the others may come from the step cache"},
	{"services.*.build.cache_to", No, "no cache export; the inline record comes from args BUILDKIT_INLINE_CACHE=1"},
	{"services.*.build.entitlements", Yes, "network.host and security.insecure, which RUN --network=host and RUN --security=insecure need"},
	{"services.*.build.privileged", Yes, "allows RUN --security=insecure (security.insecure)"},
	{"services.*.build.isolation", No, "Windows only"},
	{"services.*.build.provenance", No, "no attestations"},
	{"services.*.build.sbom", No, "no attestations"},
	{"services.*.build.ssh", No, "no SSH agent forwarding into builds"},
	{"jobs", No, "jobs are not supported"},
	{"models", No, "models are not supported"},
}

// Lookup returns the rule that governs path: the longest rule whose path is
// path itself or an ancestor of it, or a No rule when none is.
func Lookup(path string) Rule {
	parts := tree.Path(path).Parts()
	best := Rule{Path: path, Status: No}
	bestLen := -1
	for _, r := range splitRules() {
		n := len(r.parts)
		if n <= bestLen || n > len(parts) {
			continue
		}
		if matches(r.parts, parts[:n]) {
			best, bestLen = r.Rule, n
		}
	}
	return best
}

// matches is tree.Path.Matches on parts already split: Lookup runs for
// every attribute of compose's schema when a command starts, and
// splitting each path again for each rule cost tens of milliseconds.
func matches(pattern, parts []string) bool {
	if len(pattern) != len(parts) {
		return false
	}
	for i, p := range pattern {
		if p != tree.PathMatchAll && p != parts[i] {
			return false
		}
	}
	return true
}

type splitRule struct {
	Rule
	path  tree.Path
	parts []string
}

// splitRules parses Support once: Lookup runs for every key of every loaded
// file and would otherwise split each rule's path each time.
var splitRules = sync.OnceValue(func() []splitRule {
	out := make([]splitRule, len(Support))
	for i, r := range Support {
		p := tree.Path(r.Path)
		out[i] = splitRule{Rule: r, path: p, parts: p.Parts()}
	}
	return out
})

var supported = sync.OnceValue(func() []tree.Path {
	var out []tree.Path
	for _, p := range schema.AttributePaths() {
		if Lookup(string(p)).Status == Yes {
			out = append(out, p)
		}
	}
	return out
})

func supportedPaths() []tree.Path { return supported() }

// Unsupported is one key in a loaded project that berth does not honour yet.
type Unsupported struct {
	// Path is where the key stands, e.g. services.web.cap_add.
	Path string
	// Service is the service it belongs to, or "" for a top-level key.
	Service string
	// Key is the path inside the service (cap_add), or the whole path.
	Key  string
	Rule Rule
}

func newUnsupported(path string) Unsupported {
	u := Unsupported{Path: path, Key: path, Rule: Lookup(wildcard(path))}
	if rest, ok := strings.CutPrefix(path, "services."); ok {
		if name, key, ok := strings.Cut(rest, "."); ok {
			u.Service, u.Key = name, key
		}
	}
	return u
}

// wildcard turns a concrete path (services.web.ports) into the schema's form
// (services.*.ports) so that Lookup can match it against the rules.
func wildcard(path string) string {
	parts := strings.Split(path, ".")
	if len(parts) >= 2 && slices.Contains([]string{"services", "jobs", "networks", "volumes", "secrets", "configs", "models"}, parts[0]) {
		parts[1] = "*"
	}
	return strings.Join(parts, ".")
}

// String is the warning a user sees, one line naming the service and the key.
func (u Unsupported) String() string {
	when := "not supported by berth"
	if u.Rule.Status == Planned {
		when = "not supported by berth yet"
	}
	if u.Service != "" {
		return fmt.Sprintf("service %q: key %q is %s and is ignored", u.Service, u.Key, when)
	}
	return fmt.Sprintf("key %q is %s and is ignored", u.Key, when)
}

// WriteCompatTable writes docs/compose-compat.md: every key of the compose
// specification that compose-go knows, with berth's status for it. jobs.* mirror
// services.* and are listed once.
func WriteCompatTable(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# Compose compatibility\n\n")
	b.WriteString("Generated from `project.Support` by `make docs`; do not edit by hand.\n")
	b.WriteString("Every key of the compose specification (as compose-go knows it) with what berth does with it:\n\n")
	b.WriteString("- **yes**: berth does what docker compose does.\n")
	b.WriteString("- **planned**: `berth config` renders it; commands that act warn that it is ignored until the named issue lands.\n")
	b.WriteString("- **no**: `berth config` renders it; commands that act warn that it is ignored.\n\n")
	b.WriteString("`x-*` extension keys are always accepted and never warned about.\n\n")
	b.WriteString("| key | status | notes |\n|---|---|---|\n")
	for _, p := range schema.AttributePaths() {
		s := string(p)
		if strings.HasPrefix(s, "jobs.") {
			continue
		}
		r := Lookup(s)
		if s == "services" || s == "services.*" {
			// containers of keys, not keys of their own
			r = Rule{Path: s, Status: Yes, Note: "each key below says what berth does with it"}
		}
		note := r.Note
		if r.Path != s && r.Status != No {
			note = "as `" + r.Path + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", s, r.Status, note)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
