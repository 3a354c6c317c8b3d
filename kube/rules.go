package kube

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Status says what the conversion does with a compose key.
type Status string

const (
	// Mapped: the key becomes a field of an object.
	Mapped Status = "mapped"
	// Warned: the key is left out, with a warning naming service and key.
	Warned Status = "warned"
	// Refused: converting the key is an error naming service and key.
	Refused Status = "refused"
)

// Rule gives the status of the key at Path (compose-go's form: "*" any
// name, "[]" any list item) and of the keys below it that no longer rule
// names.
type Rule struct {
	Path   string
	Status Status
	Note   string
}

// Rules is the mapping table: docs/kubernetes.md shows it, and
// TestRulesDocumented keeps the two in step. A key no rule covers is
// Warned. Where a key is mapped for some values only, the note says which,
// and the mapping warns for the others.
var Rules = []Rule{
	{"name", Mapped, "the namespace, unless --namespace names one"},

	{"services.*.image", Mapped, "container image; on a context, up --build --push pins it to the digest pushed (REF@sha256:...); a service with build and no image is refused there (convert names PROJECT-SERVICE, which must be pushed)"},
	{"services.*.build", Warned, "convert builds nothing: the image named must be in a registry the cluster pulls from; on a context, up --build --push builds it with berth's builder and pushes it there"},
	{"services.*.pull_policy", Mapped, "always, never, missing/if_not_present → imagePullPolicy; others warned"},
	{"services.*.entrypoint", Mapped, "container command; `$(` escaped as `$$(`"},
	{"services.*.command", Mapped, "container args; `$(` escaped as `$$(`"},
	{"services.*.environment", Mapped, "container env, sorted; `$(` escaped"},
	{"services.*.env_file", Mapped, "merged into environment by the loader"},
	{"services.*.working_dir", Mapped, "workingDir"},
	{"services.*.user", Mapped, "numeric uid[:gid] → runAsUser/runAsGroup; a user name is warned"},
	{"services.*.group_add", Mapped, "numeric gids → supplementalGroups; names are warned"},
	{"services.*.labels", Mapped, "labels of the workload and pod template where valid as Kubernetes labels, annotations otherwise"},
	{"services.*.label_file", Mapped, "merged into labels by the loader"},
	{"services.*.annotations", Mapped, "pod template annotations"},
	{"services.*.stop_grace_period", Mapped, "terminationGracePeriodSeconds (rounded up)"},
	{"services.*.restart", Mapped, "always/unless-stopped: Deployment pods always restart; no and on-failure are warned on a Deployment, and set a Job's restartPolicy"},
	{"services.*.scale", Mapped, "replicas"},
	{"services.*.deploy", Mapped, "the keys below"},
	{"services.*.deploy.*", Warned, ""},
	{"services.*.deploy.replicas", Mapped, "replicas"},
	{"services.*.deploy.mode", Mapped, "replicated → Deployment/StatefulSet; global → DaemonSet"},
	{"services.*.deploy.resources", Mapped, "the keys below"},
	{"services.*.deploy.resources.*", Warned, ""},
	{"services.*.deploy.resources.limits", Mapped, "the keys below"},
	{"services.*.deploy.resources.limits.*", Warned, ""},
	{"services.*.deploy.resources.reservations", Mapped, "the keys below"},
	{"services.*.deploy.resources.reservations.*", Warned, ""},
	{"services.*.deploy.resources.limits.cpus", Mapped, "resources.limits.cpu"},
	{"services.*.deploy.resources.limits.memory", Mapped, "resources.limits.memory"},
	{"services.*.deploy.resources.reservations.cpus", Mapped, "resources.requests.cpu"},
	{"services.*.deploy.resources.reservations.memory", Mapped, "resources.requests.memory"},
	{"services.*.deploy.restart_policy", Mapped, "the keys below"},
	{"services.*.deploy.restart_policy.*", Warned, ""},
	{"services.*.deploy.restart_policy.condition", Mapped, "as restart"},
	{"services.*.deploy.restart_policy.max_attempts", Mapped, "a Job's backoffLimit; warned elsewhere"},
	{"services.*.deploy.labels", Mapped, "workload labels/annotations"},
	{"services.*.mem_limit", Mapped, "resources.limits.memory"},
	{"services.*.mem_reservation", Mapped, "resources.requests.memory"},
	{"services.*.cpus", Mapped, "resources.limits.cpu"},
	{"services.*.healthcheck", Mapped, "readiness and liveness exec probes; disable or NONE: no probes"},
	{"services.*.healthcheck.start_interval", Warned, "probes have one period"},
	{"services.*.read_only", Mapped, "securityContext.readOnlyRootFilesystem"},
	{"services.*.cap_add", Mapped, "securityContext.capabilities.add (CAP_ prefix dropped)"},
	{"services.*.cap_drop", Mapped, "securityContext.capabilities.drop (CAP_ prefix dropped)"},
	{"services.*.privileged", Mapped, "securityContext.privileged"},
	{"services.*.security_opt", Mapped, "no-new-privileges → allowPrivilegeEscalation: false, seccomp=unconfined → seccompProfile Unconfined; others warned"},
	{"services.*.tmpfs", Mapped, "emptyDir medium Memory (size → sizeLimit)"},
	{"services.*.shm_size", Mapped, "emptyDir medium Memory at /dev/shm with sizeLimit"},
	{"services.*.sysctls", Mapped, "the sysctls Kubernetes calls safe → pod securityContext.sysctls; others warned"},
	{"services.*.init", Mapped, "true → shareProcessNamespace: the pause process is PID 1, reaping orphans, and the entrypoint is not (with pid host, warned)"},
	{"services.*.tty", Mapped, "tty"},
	{"services.*.stdin_open", Mapped, "stdin"},
	{"services.*.hostname", Mapped, "pod hostname"},
	{"services.*.extra_hosts", Mapped, "hostAliases; host-gateway is warned"},
	{"services.*.dns_search", Mapped, "dnsConfig.searches"},
	{"services.*.dns_opt", Mapped, "dnsConfig.options"},
	{"services.*.dns", Warned, "pods keep the cluster's resolver, which service names need"},
	{"services.*.platform", Mapped, "nodeSelector kubernetes.io/os and kubernetes.io/arch"},
	{"services.*.network_mode", Mapped, "host → hostNetwork; none → a NetworkPolicy that allows no traffic; bridge (Docker's default bridge) → a NetworkPolicy that lets in only the published ports; service:X → the pods are on X's networks (warned: they share no namespace with X's); others warned"},
	{"services.*.pid", Mapped, "host → hostPID; others warned"},
	{"services.*.ipc", Mapped, "host → hostIPC; others warned"},
	{"services.*.post_start", Mapped, "lifecycle.postStart exec of the first hook; its user, privileged, working_dir and environment, and further hooks, are warned"},
	{"services.*.pre_stop", Mapped, "lifecycle.preStop exec, as post_start"},
	{"services.*.profiles", Mapped, "selection, done by the loader"},
	{"services.*.depends_on", Mapped, "creation order and the berth.dev/depends-on annotation; service_completed_successfully makes the dependency a Job; up on a cluster applies a service once the dependencies it waits for are ready (service_healthy) or complete; service_healthy on a service without a healthcheck in the file is warned (no probe: healthy once running)"},

	{"services.*.ports", Mapped, "a ClusterIP Service on the target ports; published ports → a NodePort (or LoadBalancer) Service NAME-published"},
	{"services.*.ports.[].mode", Mapped, "ingress; host is warned"},
	{"services.*.ports.[].host_ip", Mapped, "0.0.0.0 or none; another address is warned"},
	{"services.*.expose", Mapped, "ports of the ClusterIP Service"},
	{"services.*.networks", Mapped, "NetworkPolicies: pods on a shared network reach each other"},
	{"services.*.networks.*", Mapped, "the network: NetworkPolicies"},
	{"services.*.networks.*.*", Warned, ""},
	{"services.*.networks.*.aliases", Mapped, "one more ClusterIP Service per alias"},
	{"services.*.networks.*.ipv4_address", Warned, "the cluster assigns pod addresses"},
	{"services.*.networks.*.ipv6_address", Warned, "the cluster assigns pod addresses"},
	{"services.*.networks.*.mac_address", Warned, "the cluster assigns interfaces"},

	{"services.*.volumes", Mapped, "see the volume rows below"},
	{"services.*.volumes.[].*", Warned, ""},
	{"services.*.volumes.[].type", Mapped, "volume → PersistentVolumeClaim (anonymous: emptyDir); tmpfs → emptyDir Memory; bind → refused, or a ConfigMap with --bind-as-configmap for a regular file of at most 1 MiB; image, npipe and cluster are warned"},
	{"services.*.volumes.[].source", Mapped, ""},
	{"services.*.volumes.[].target", Mapped, "mountPath"},
	{"services.*.volumes.[].read_only", Mapped, "readOnly"},
	{"services.*.volumes.[].volume", Mapped, "the keys below"},
	{"services.*.volumes.[].volume.*", Warned, ""},
	{"services.*.volumes.[].volume.nocopy", Mapped, "a claim is never filled from the image"},
	{"services.*.volumes.[].volume.subpath", Mapped, "subPath"},
	{"services.*.volumes.[].bind", Mapped, "the keys below"},
	{"services.*.volumes.[].bind.*", Warned, ""},
	{"services.*.volumes.[].bind.create_host_path", Mapped, "the compose default; a bind is a ConfigMap or refused"},
	{"services.*.volumes.[].tmpfs", Mapped, "the keys below"},
	{"services.*.volumes.[].tmpfs.*", Warned, ""},
	{"services.*.volumes.[].tmpfs.size", Mapped, "emptyDir sizeLimit"},
	{"services.*.configs", Mapped, "a ConfigMap volume mounted at the target (default /NAME); mode → items mode; uid/gid warned"},
	{"services.*.configs.[].uid", Warned, "a projected file's owner cannot be set"},
	{"services.*.configs.[].gid", Warned, "a projected file's owner cannot be set"},
	{"services.*.secrets", Mapped, "a Secret volume mounted at the target (default /run/secrets/NAME); mode → items mode; uid/gid warned"},
	{"services.*.secrets.[].uid", Warned, "a projected file's owner cannot be set"},
	{"services.*.secrets.[].gid", Warned, "a projected file's owner cannot be set"},

	{"networks", Mapped, "NetworkPolicies, one per network"},
	{"networks.*", Mapped, "the keys below"},
	{"networks.*.*", Warned, ""},
	{"networks.*.name", Mapped, "the policy's name comes from the compose key"},
	{"networks.*.internal", Mapped, "pods on internal networks only send to their networks' pods and to DNS; a service whose networks are all internal publishes no ports (warned), as in Docker"},
	{"networks.*.labels", Mapped, "policy labels where valid"},
	{"networks.*.driver", Mapped, "bridge (or none given); others warned"},
	{"volumes", Mapped, "PersistentVolumeClaims, ReadWriteOnce"},
	{"volumes.*", Mapped, "the keys below"},
	{"volumes.*.*", Warned, ""},
	{"volumes.*.name", Mapped, "the claim's name comes from the compose key"},
	{"volumes.*.driver", Mapped, "local (or none given); others warned"},
	{"volumes.*.driver_opts", Mapped, "the keys below"},
	{"volumes.*.driver_opts.*", Warned, ""},
	{"volumes.*.driver_opts.size", Mapped, "storage request (default 1Gi); --storage-class sets the class"},
	{"volumes.*.labels", Mapped, "claim labels where valid"},
	{"volumes.*.external", Mapped, "no claim is made: one of that name must exist (warned)"},
	{"configs", Mapped, "ConfigMaps (binaryData for non-UTF-8), at most 1 MiB"},
	{"configs.*", Mapped, "the keys below"},
	{"configs.*.*", Warned, ""},
	{"configs.*.name", Mapped, "the ConfigMap's name comes from the compose key"},
	{"configs.*.file", Mapped, "read at conversion"},
	{"configs.*.content", Mapped, ""},
	{"configs.*.environment", Mapped, "the variable's value at conversion"},
	{"configs.*.labels", Mapped, "labels where valid"},
	{"configs.*.external", Mapped, "no ConfigMap is made: one of that name must exist (warned)"},
	{"secrets", Mapped, "Secrets of type Opaque, at most 1 MiB"},
	{"secrets.*", Mapped, "the keys below"},
	{"secrets.*.*", Warned, ""},
	{"secrets.*.name", Mapped, "the Secret's name comes from the compose key"},
	{"secrets.*.file", Mapped, "read at conversion"},
	{"secrets.*.content", Mapped, ""},
	{"secrets.*.environment", Mapped, "the variable's value at conversion"},
	{"secrets.*.labels", Mapped, "labels where valid"},
	{"secrets.*.external", Mapped, "no Secret is made: one of that name must exist (warned)"},
}

// Notes for keys warned by default, so the warning says why.
var warnNotes = map[string]string{
	"services.*.container_name":   "pods are named by their controller",
	"services.*.links":            "services reach each other by their Service's name",
	"services.*.volumes_from":     "pods do not share another workload's volumes",
	"services.*.ulimits":          "Kubernetes sets no rlimits",
	"services.*.pids_limit":       "the kubelet sets the pids limit",
	"services.*.devices":          "no host devices",
	"services.*.logging":          "the cluster's runtime keeps the logs",
	"services.*.stop_signal":      "pods are stopped with SIGTERM",
	"services.*.deploy.placement": "no node placement",
	"services.*.develop":          "watch is local",
	"services.*.domainname":       "no domainname",
	"jobs":                        "jobs are not converted",
	"models":                      "models are not converted",
}

type rule struct {
	Rule
	parts []string
	wild  int
}

// compiled are Rules split into their parts, once, when a conversion
// first needs them: not in package init, which every berth command runs.
var compiled = sync.OnceValue(func() []rule {
	out := make([]rule, len(Rules))
	for i, r := range Rules {
		parts := strings.Split(r.Path, ".")
		w := 0
		for _, p := range parts {
			if p == "*" || p == "[]" {
				w++
			}
		}
		out[i] = rule{r, parts, w}
	}
	return out
})

// lookup returns the rule for a concrete path (services.web.ports.[].mode):
// the longest rule that is it or an ancestor, the one with fewer wildcards
// on a tie; Warned when none is.
func lookup(parts []string) Rule {
	best, bestLen, bestWild := Rule{Path: strings.Join(parts, "."), Status: Warned}, -1, 0
	for _, r := range compiled() {
		n := len(r.parts)
		if n > len(parts) || n < bestLen || (n == bestLen && r.wild >= bestWild) {
			continue
		}
		if r.matches(parts[:n]) {
			best, bestLen, bestWild = r.Rule, n, r.wild
		}
	}
	if best.Status == Warned && best.Note == "" {
		best.Note = warnNotes[wildcard(parts)]
	}
	return best
}

func wildcard(parts []string) string {
	w := append([]string(nil), parts...)
	if len(w) > 1 {
		w[1] = "*"
	}
	return strings.Join(w, ".")
}

// below says whether a rule names a key under parts, so that a mapped key
// is walked into.
func below(parts []string) bool {
	for _, r := range compiled() {
		if len(r.parts) > len(parts) && r.matches(parts) {
			return true
		}
	}
	return false
}

// matches says whether the rule's first len(parts) parts match parts: a
// name itself, or * for any name (not for a list's [] item).
func (r rule) matches(parts []string) bool {
	for i, p := range parts {
		if rp := r.parts[i]; rp != p && !(rp == "*" && p != "[]") {
			return false
		}
	}
	return true
}

// finding is a key the walk found not mapped.
type finding struct {
	service string // "" for a top-level key
	key     string // the path inside the service, or the whole path
	rule    Rule
}

func (f finding) String() string {
	s := fmt.Sprintf("key %q is not supported on Kubernetes and is ignored", f.key)
	if f.rule.Status == Refused {
		s = fmt.Sprintf("key %q cannot be converted to Kubernetes", f.key)
	}
	if f.rule.Note != "" {
		s += ": " + f.rule.Note
	}
	if f.service != "" {
		return fmt.Sprintf("service %q: %s", f.service, s)
	}
	return s
}

// walk reports every key of v (the JSON form of the model at prefix) that
// is not mapped, at the highest such node.
func walk(prefix []string, v any, service string, report func(finding)) {
	switch x := v.(type) {
	case nil:
		return
	case map[string]any:
		// the loader's empty defaults (ipam: {}) are not keys a user wrote
		if len(x) == 0 {
			return
		}
	case []any:
		if len(x) == 0 {
			return
		}
	}
	r := lookup(prefix)
	if r.Status != Mapped {
		key := strings.Join(prefix, ".")
		if service != "" {
			key = strings.Join(prefix[2:], ".")
		}
		key = strings.ReplaceAll(key, ".[]", "")
		report(finding{service: service, key: key, rule: r})
		return
	}
	if !below(prefix) {
		return
	}
	switch v := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(v) {
			walk(append(append([]string(nil), prefix...), k), v[k], service, report)
		}
	case []any:
		for _, item := range v {
			walk(append(append([]string(nil), prefix...), "[]"), item, service, report)
		}
	}
}

// keysOf walks the JSON form of x at prefix.
func keysOf(prefix []string, x any, service string, report func(finding)) error {
	b, err := json.Marshal(x)
	if err != nil {
		return fmt.Errorf("reading the model at %s: %w", strings.Join(prefix, "."), err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("reading the model at %s: %w", strings.Join(prefix, "."), err)
	}
	if m, ok := v.(map[string]any); ok {
		// A service's walk starts at its keys: the service itself is mapped.
		for _, k := range sortedKeys(m) {
			walk(append(append([]string(nil), prefix...), k), m[k], service, report)
		}
	}
	return nil
}

// WriteMappingTable writes the mapping table of docs/kubernetes.md: every
// rule, then the keys warned with a reason of their own.
func WriteMappingTable(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| compose key | on Kubernetes | how |\n|---|---|---|\n")
	cell := func(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
	for _, r := range Rules {
		if r.Note == "the keys below" || (r.Status == Warned && r.Note == "" && strings.HasSuffix(r.Path, ".*")) {
			// structure only: the keys under it have their rows, and
			// any other key under it is warned, as the line below says
			continue
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", r.Path, r.Status, cell(r.Note))
	}
	for _, k := range sortedKeys(warnNotes) {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", k, Warned, cell(warnNotes[k]))
	}
	b.WriteString("| any other key | warned | named in a warning with the service, never ignored in silence |\n")
	_, err := io.WriteString(w, b.String())
	return err
}
