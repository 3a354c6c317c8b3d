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

const (
	issueContainers = "containers (issue 4)"
	issueNetworks   = "networks (issue 5)"
	issueVolumes    = "volumes (issue 6)"
	issueLifecycle  = "compose lifecycle (issue 7)"
)

// Support is berth's compatibility table: the one place that says which
// compose keys berth honours. Keys no rule covers are No. Later issues flip
// rows to Yes as they land; docs/compose-compat.md is generated from it.
var Support = []Rule{
	{"name", Yes, "project name; -p and COMPOSE_PROJECT_NAME win over it"},
	{"version", Yes, "obsolete; accepted and ignored with a warning, as docker compose does"},
	{"include", Yes, "resolved by the loader"},
	{"services.*.extends", Yes, "resolved by the loader"},
	{"services.*.profiles", Yes, "--profile and COMPOSE_PROFILES select services"},

	{"services.*.depends_on", Planned, issueLifecycle},
	{"services.*.healthcheck", Planned, issueLifecycle},
	{"services.*.deploy", Planned, issueLifecycle},
	{"services.*.scale", Planned, issueLifecycle},
	{"services.*.secrets", Planned, issueLifecycle},
	{"services.*.configs", Planned, issueLifecycle},
	{"services.*.post_start", Planned, issueLifecycle},
	{"services.*.pre_stop", Planned, issueLifecycle},
	{"services.*.container_name", Planned, issueLifecycle},
	{"services.*.pull_policy", Planned, issueLifecycle},
	{"secrets", Planned, issueLifecycle},
	{"configs", Planned, issueLifecycle},

	{"services.*.image", Planned, issueContainers},
	{"services.*.command", Planned, issueContainers},
	{"services.*.entrypoint", Planned, issueContainers},
	{"services.*.environment", Planned, issueContainers},
	{"services.*.env_file", Planned, issueContainers},
	{"services.*.working_dir", Planned, issueContainers},
	{"services.*.user", Planned, issueContainers},
	{"services.*.group_add", Planned, issueContainers},
	{"services.*.hostname", Planned, issueContainers},
	{"services.*.domainname", Planned, issueContainers},
	{"services.*.tty", Planned, issueContainers},
	{"services.*.stdin_open", Planned, issueContainers},
	{"services.*.init", Planned, issueContainers},
	{"services.*.mem_limit", Planned, issueContainers},
	{"services.*.memswap_limit", Planned, issueContainers},
	{"services.*.mem_reservation", Planned, issueContainers},
	{"services.*.cpus", Planned, issueContainers},
	{"services.*.cpu_shares", Planned, issueContainers},
	{"services.*.cpuset", Planned, issueContainers},
	{"services.*.pids_limit", Planned, issueContainers},
	{"services.*.shm_size", Planned, issueContainers},
	{"services.*.ulimits", Planned, issueContainers},
	{"services.*.sysctls", Planned, issueContainers},
	{"services.*.oom_score_adj", Planned, issueContainers},
	{"services.*.cap_add", Planned, issueContainers},
	{"services.*.cap_drop", Planned, issueContainers},
	{"services.*.privileged", Planned, issueContainers},
	{"services.*.read_only", Planned, issueContainers},
	{"services.*.devices", Planned, issueContainers},
	{"services.*.stop_signal", Planned, issueContainers},
	{"services.*.stop_grace_period", Planned, issueContainers},
	{"services.*.labels", Planned, issueContainers},
	{"services.*.label_file", Planned, issueContainers},
	{"services.*.logging", Planned, issueContainers},
	{"services.*.restart", Planned, issueContainers},
	{"services.*.security_opt", Planned, issueContainers},
	{"services.*.platform", Planned, issueContainers},

	{"services.*.networks", Planned, issueNetworks},
	{"services.*.network_mode", Planned, issueNetworks},
	{"services.*.ports", Planned, issueNetworks},
	{"services.*.expose", Planned, issueNetworks},
	{"services.*.dns", Planned, issueNetworks},
	{"services.*.dns_search", Planned, issueNetworks},
	{"services.*.dns_opt", Planned, issueNetworks},
	{"services.*.extra_hosts", Planned, issueNetworks},
	{"services.*.links", Planned, issueNetworks},
	{"services.*.mac_address", Planned, issueNetworks},
	{"networks", Planned, issueNetworks},

	{"services.*.volumes", Planned, issueVolumes},
	{"services.*.tmpfs", Planned, issueVolumes},
	{"services.*.volumes_from", Planned, issueVolumes},
	{"volumes", Planned, issueVolumes},

	{"services.*.build", No, "the Dockerfile builder comes after the compose lifecycle"},
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
		if tree.NewPath(parts[:n]...).Matches(r.path) {
			best, bestLen = r.Rule, n
		}
	}
	return best
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
		note := r.Note
		if r.Path != s && r.Status != No {
			note = "as `" + r.Path + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", s, r.Status, note)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
