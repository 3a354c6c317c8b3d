package kube

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// service makes the workload of s and the Services that reach it.
func (c *conv) service(s types.ServiceConfig) error {
	name := c.names[s.Name]
	pod, err := c.podSpec(s)
	if err != nil {
		return err
	}
	// the ports the container listens on are the Services' too; a port
	// that is none is refused with the Services, below
	ports, portsErr := c.targets(s)
	pod.Containers[0].Ports = containerPorts(ports)
	labels, annotations := userLabels(s.Labels)
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{
			Labels:      merge(c.labels(s.Name), c.networkLabels(s), labels),
			Annotations: merge(nil, annotations, s.Annotations),
		},
		Spec: pod,
	}
	var wlLabels, wlAnnotations map[string]string
	if s.Deploy != nil {
		wlLabels, wlAnnotations = userLabels(s.Deploy.Labels)
	}
	meta := c.meta(name, s.Name)
	meta.Labels = merge(meta.Labels, labels, wlLabels)
	meta.Annotations = merge(nil, annotations, wlAnnotations)
	if deps := dependsOn(s); deps != "" {
		meta.Annotations = merge(meta.Annotations, map[string]string{AnnotationDependsOn: deps})
	}
	selector := &metav1.LabelSelector{MatchLabels: c.selector(s.Name)}
	replicas := int32(s.GetScale())
	restart := restartOf(s)
	global := s.Deploy != nil && s.Deploy.Mode == "global"

	var obj Object
	switch {
	case c.completes[s.Name]:
		// Another service waits for this one to complete: a Job.
		job := &batchv1.Job{TypeMeta: typeMeta("batch/v1", "Job"), ObjectMeta: meta}
		tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
		backoff := int32(0)
		if restart == "on-failure" {
			tmpl.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
			backoff = 6
			if s.Deploy != nil && s.Deploy.RestartPolicy != nil && s.Deploy.RestartPolicy.MaxAttempts != nil {
				backoff = int32(min(*s.Deploy.RestartPolicy.MaxAttempts, math.MaxInt32))
			}
		} else if restart == "always" || restart == "unless-stopped" {
			c.warnPart(s.Name, "restart", "the service is a Job, because another service waits for it to complete: a Job's pods are not restarted after success")
		}
		if replicas != 1 {
			job.Spec.Parallelism = &replicas
			job.Spec.Completions = &replicas
		}
		job.Spec.BackoffLimit = &backoff
		job.Spec.Template = tmpl
		obj = job
	case global:
		c.warnRestart(s, restart)
		obj = &appsv1.DaemonSet{TypeMeta: typeMeta("apps/v1", "DaemonSet"), ObjectMeta: meta,
			Spec: appsv1.DaemonSetSpec{Selector: selector, Template: tmpl}}
	case replicas == 1 && mountsNamedVolume(c.p, s):
		// Its data follows its one pod.
		c.warnRestart(s, restart)
		obj = &appsv1.StatefulSet{TypeMeta: typeMeta("apps/v1", "StatefulSet"), ObjectMeta: meta,
			Spec: appsv1.StatefulSetSpec{Replicas: &replicas, Selector: selector, Template: tmpl, ServiceName: name}}
	default:
		c.warnRestart(s, restart)
		obj = &appsv1.Deployment{TypeMeta: typeMeta("apps/v1", "Deployment"), ObjectMeta: meta,
			Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: selector, Template: tmpl}}
	}
	if err := c.claim(obj.GetObjectKind().GroupVersionKind().Kind, name, fmt.Sprintf("service %q", s.Name)); err != nil {
		return err
	}
	c.workloads = append(c.workloads, obj)
	if portsErr != nil {
		return portsErr
	}
	return c.reach(s, ports)
}

func (c *conv) warnRestart(s types.ServiceConfig, restart string) {
	switch restart {
	case "no", "on-failure":
		key := "restart"
		if s.Restart == "" {
			key = "deploy.restart_policy.condition"
		}
		c.warnPart(s.Name, key, fmt.Sprintf("%s: the pods of a workload are always restarted", restart))
	}
	if s.Deploy != nil && s.Deploy.RestartPolicy != nil && s.Deploy.RestartPolicy.MaxAttempts != nil {
		c.warnKey(s.Name, "deploy.restart_policy.max_attempts", "the pods of a workload are always restarted")
	}
}

// restartOf is the service's restart policy in restart's words.
func restartOf(s types.ServiceConfig) string {
	if s.Restart != "" {
		r, _, _ := strings.Cut(s.Restart, ":")
		return r
	}
	if s.Deploy != nil && s.Deploy.RestartPolicy != nil {
		switch s.Deploy.RestartPolicy.Condition {
		case "none":
			return "no"
		case "on-failure":
			return "on-failure"
		case "any":
			return "always"
		}
	}
	return ""
}

func dependsOn(s types.ServiceConfig) string {
	var deps []string
	for _, d := range sortedKeys(s.DependsOn) {
		deps = append(deps, d+":"+s.DependsOn[d].Condition)
	}
	return strings.Join(deps, ",")
}

func mountsNamedVolume(p *types.Project, s types.ServiceConfig) bool {
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeVolume && v.Source != "" {
			if _, ok := p.Volumes[v.Source]; ok {
				return true
			}
		}
	}
	return false
}

// podSpec is the pod of a service: its one container and what it mounts.
func (c *conv) podSpec(s types.ServiceConfig) (corev1.PodSpec, error) {
	image := s.Image
	if image == "" {
		image = c.p.Name + "-" + s.Name
		c.warn(s.Name, "key %q: convert builds nothing; the manifests name the image %q, which must be pushed to a registry the cluster pulls from", "build", image)
	}
	ctr := corev1.Container{
		Name:       c.names[s.Name],
		Image:      image,
		WorkingDir: s.WorkingDir,
		TTY:        s.Tty,
		Stdin:      s.StdinOpen,
	}
	switch s.PullPolicy {
	case "":
	case types.PullPolicyAlways:
		ctr.ImagePullPolicy = corev1.PullAlways
	case types.PullPolicyNever:
		ctr.ImagePullPolicy = corev1.PullNever
	case types.PullPolicyMissing, types.PullPolicyIfNotPresent:
		ctr.ImagePullPolicy = corev1.PullIfNotPresent
	default:
		c.warnKey(s.Name, "pull_policy", s.PullPolicy+" has no imagePullPolicy")
	}
	if s.Entrypoint != nil {
		if len(s.Entrypoint) == 0 {
			c.warnPart(s.Name, "entrypoint", "an empty entrypoint cannot clear the image's: the image's is kept")
		}
		ctr.Command = escapeAll(s.Entrypoint)
	}
	if s.Command != nil {
		if len(s.Command) == 0 {
			c.warnPart(s.Name, "command", "an empty command cannot clear the image's: the image's is kept")
		}
		ctr.Args = escapeAll(s.Command)
	}
	for _, k := range sortedKeys(s.Environment) {
		if v := s.Environment[k]; v != nil {
			ctr.Env = append(ctr.Env, corev1.EnvVar{Name: k, Value: escape(*v)})
		}
	}
	pod := corev1.PodSpec{Containers: nil}
	sc := &corev1.SecurityContext{}
	psc := &corev1.PodSecurityContext{}
	if s.User != "" {
		c.user(s, sc)
	}
	for _, g := range s.GroupAdd {
		if n, err := strconv.ParseInt(g, 10, 64); err == nil && n >= 0 {
			psc.SupplementalGroups = append(psc.SupplementalGroups, n)
		} else {
			c.warnPart(s.Name, "group_add", fmt.Sprintf("group %q is left out: a pod takes numeric group ids only", g))
		}
	}
	if s.ReadOnly {
		sc.ReadOnlyRootFilesystem = ptr(true)
	}
	if s.Privileged {
		sc.Privileged = ptr(true)
	}
	if len(s.CapAdd) > 0 || len(s.CapDrop) > 0 {
		sc.Capabilities = &corev1.Capabilities{}
		for _, cp := range s.CapAdd {
			sc.Capabilities.Add = append(sc.Capabilities.Add, corev1.Capability(capName(cp)))
		}
		for _, cp := range s.CapDrop {
			sc.Capabilities.Drop = append(sc.Capabilities.Drop, corev1.Capability(capName(cp)))
		}
	}
	for _, opt := range s.SecurityOpt {
		k, v, _ := strings.Cut(opt, "=")
		if !strings.Contains(opt, "=") {
			k, v, _ = strings.Cut(opt, ":")
		}
		switch {
		case k == "no-new-privileges" && (v == "" || v == "true"):
			sc.AllowPrivilegeEscalation = ptr(false)
		case k == "no-new-privileges" && v == "false":
		case k == "seccomp" && v == "unconfined":
			sc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
		default:
			c.warnPart(s.Name, "security_opt", fmt.Sprintf("%q has no Kubernetes form and is left out", opt))
		}
	}
	if *sc != (corev1.SecurityContext{}) {
		ctr.SecurityContext = sc
	}
	for _, k := range sortedKeys(s.Sysctls) {
		if safeSysctl(k) {
			psc.Sysctls = append(psc.Sysctls, corev1.Sysctl{Name: k, Value: s.Sysctls[k]})
		} else {
			c.warnPart(s.Name, "sysctls", fmt.Sprintf("%s is left out: Kubernetes allows it only where the kubelet's --allowed-unsafe-sysctls names it", k))
		}
	}
	if len(psc.SupplementalGroups) > 0 || len(psc.Sysctls) > 0 {
		pod.SecurityContext = psc
	}
	if s.StopGracePeriod != nil {
		pod.TerminationGracePeriodSeconds = ptr(int64(math.Ceil(time.Duration(*s.StopGracePeriod).Seconds())))
	}
	if res, ok := c.resources(s); ok {
		ctr.Resources = res
	}
	c.probes(s, &ctr)
	c.hooks(s, &ctr)
	if s.Hostname != "" {
		if errs := validation.IsDNS1123Label(s.Hostname); len(errs) > 0 {
			c.warnPart(s.Name, "hostname", fmt.Sprintf("%q is left out: a pod's hostname is a DNS label (%s)", s.Hostname, errs[0]))
		} else {
			pod.Hostname = s.Hostname
		}
	}
	hosts := hostsByIP(s.ExtraHosts)
	for _, ip := range sortedKeys(hosts) {
		if ip == "host-gateway" {
			c.warnPart(s.Name, "extra_hosts", "host-gateway has no address on a cluster and is left out")
			continue
		}
		pod.HostAliases = append(pod.HostAliases, corev1.HostAlias{IP: ip, Hostnames: hosts[ip]})
	}
	if len(s.DNSSearch) > 0 || len(s.DNSOpts) > 0 {
		pod.DNSConfig = &corev1.PodDNSConfig{Searches: s.DNSSearch}
		for _, o := range s.DNSOpts {
			k, v, ok := strings.Cut(o, ":")
			opt := corev1.PodDNSConfigOption{Name: k}
			if ok {
				opt.Value = &v
			}
			pod.DNSConfig.Options = append(pod.DNSConfig.Options, opt)
		}
	}
	if s.Platform != "" {
		parts := strings.Split(s.Platform, "/")
		pod.NodeSelector = map[string]string{"kubernetes.io/os": parts[0]}
		if len(parts) > 1 {
			pod.NodeSelector["kubernetes.io/arch"] = parts[1]
		}
		if len(parts) > 2 {
			c.warnPart(s.Name, "platform", "the variant "+parts[2]+" has no node label")
		}
	}
	switch {
	case s.NetworkMode == "":
	case s.NetworkMode == "host":
		pod.HostNetwork = true
	case s.NetworkMode == "none":
		// its policy <name>-no-network lets no traffic in or out
	case s.NetworkMode == "bridge":
		// Docker's default bridge, on none of the project's networks:
		// its policy <name>-bridge lets in only its published ports
	default:
		c.warnKey(s.Name, "network_mode", s.NetworkMode+": pods of different workloads share no namespaces")
	}
	switch {
	case s.Pid == "":
	case s.Pid == "host":
		pod.HostPID = true
	default:
		c.warnKey(s.Name, "pid", s.Pid+": pods of different workloads share no namespaces")
	}
	if s.Init != nil && *s.Init {
		// init: true runs an init as PID 1 that reaps orphans and passes
		// signals on, so the entrypoint is not PID 1 (which ignores the
		// signals it has no handler for). A pod's shared process
		// namespace does the same with the pod's pause process.
		if pod.HostPID {
			c.warnPart(s.Name, "init", "true with pid host: the host's init is PID 1 already")
		} else {
			pod.ShareProcessNamespace = ptr(true)
		}
	}
	switch {
	case s.Ipc == "", s.Ipc == "private", s.Ipc == "shareable":
	case s.Ipc == "host":
		pod.HostIPC = true
	default:
		c.warnKey(s.Name, "ipc", s.Ipc+": pods of different workloads share no namespaces")
	}
	if err := c.mounts(s, &pod, &ctr); err != nil {
		return pod, err
	}
	pod.Containers = []corev1.Container{ctr}
	return pod, nil
}

// user maps uid[:gid]; a name needs the image's /etc/passwd, which a pod
// spec cannot consult.
func (c *conv) user(s types.ServiceConfig, sc *corev1.SecurityContext) {
	u, g, hasGroup := strings.Cut(s.User, ":")
	uid, err := strconv.ParseInt(u, 10, 64)
	if err != nil || uid < 0 {
		c.warnKey(s.Name, "user", fmt.Sprintf("user %q: runAsUser takes a numeric uid", s.User))
		return
	}
	sc.RunAsUser = &uid
	if hasGroup {
		gid, err := strconv.ParseInt(g, 10, 64)
		if err != nil || gid < 0 {
			c.warnPart(s.Name, "user", fmt.Sprintf("group %q is left out: runAsGroup takes a numeric gid", g))
			return
		}
		sc.RunAsGroup = &gid
	}
}

func capName(s string) string {
	return strings.TrimPrefix(strings.ToUpper(s), "CAP_")
}

// safeSysctls are the sysctls the kubelet allows without
// --allowed-unsafe-sysctls (Kubernetes 1.32 and later).
var safeSysctls = []string{
	"kernel.shm_rmid_forced",
	"net.ipv4.ip_local_port_range",
	"net.ipv4.tcp_syncookies",
	"net.ipv4.ping_group_range",
	"net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.ip_local_reserved_ports",
	"net.ipv4.tcp_keepalive_time",
	"net.ipv4.tcp_fin_timeout",
	"net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes",
	"net.ipv4.tcp_rmem",
	"net.ipv4.tcp_wmem",
}

func safeSysctl(k string) bool { return slices.Contains(safeSysctls, strings.ReplaceAll(k, "/", ".")) }

func hostsByIP(h types.HostsList) map[string][]string {
	out := map[string][]string{}
	for _, host := range sortedKeys(h) {
		for _, ip := range h[host] {
			out[ip] = append(out[ip], host)
		}
	}
	return out
}

// escape keeps $(VAR) literal: Kubernetes expands it in env, command and
// args, compose does not.
func escape(s string) string { return strings.ReplaceAll(s, "$(", "$$(") }

func escapeAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = escape(s)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// resources are limits from deploy.resources.limits (or mem_limit, cpus)
// and requests from reservations (or mem_reservation).
func (c *conv) resources(s types.ServiceConfig) (corev1.ResourceRequirements, bool) {
	var r corev1.ResourceRequirements
	set := func(list *corev1.ResourceList, name corev1.ResourceName, q resource.Quantity) {
		if *list == nil {
			*list = corev1.ResourceList{}
		}
		(*list)[name] = q
	}
	cpus, mem := float64(s.CPUS), int64(s.MemLimit)
	memReq := int64(s.MemReservation)
	var cpuReq float64
	if s.Deploy != nil {
		if l := s.Deploy.Resources.Limits; l != nil {
			if l.NanoCPUs != 0 {
				cpus = float64(l.NanoCPUs)
			}
			if l.MemoryBytes != 0 {
				mem = int64(l.MemoryBytes)
			}
		}
		if rs := s.Deploy.Resources.Reservations; rs != nil {
			if rs.NanoCPUs != 0 {
				cpuReq = float64(rs.NanoCPUs)
			}
			if rs.MemoryBytes != 0 {
				memReq = int64(rs.MemoryBytes)
			}
		}
	}
	if cpus > 0 {
		set(&r.Limits, corev1.ResourceCPU, *resource.NewMilliQuantity(int64(math.Round(cpus*1000)), resource.DecimalSI))
	}
	if mem > 0 {
		set(&r.Limits, corev1.ResourceMemory, *resource.NewQuantity(mem, resource.BinarySI))
	}
	if cpuReq > 0 {
		set(&r.Requests, corev1.ResourceCPU, *resource.NewMilliQuantity(int64(math.Round(cpuReq*1000)), resource.DecimalSI))
	}
	if memReq > 0 {
		set(&r.Requests, corev1.ResourceMemory, *resource.NewQuantity(memReq, resource.BinarySI))
	}
	return r, r.Limits != nil || r.Requests != nil
}

// probes map the healthcheck to readiness (ready when healthy) and
// liveness (restarted when unhealthy, after start_period).
func (c *conv) probes(s types.ServiceConfig, ctr *corev1.Container) {
	h := s.HealthCheck
	if h == nil || h.Disable || len(h.Test) == 0 {
		return
	}
	var cmd []string
	switch h.Test[0] {
	case "NONE":
		return
	case "CMD":
		cmd = h.Test[1:]
	case "CMD-SHELL":
		cmd = []string{"/bin/sh", "-c", strings.Join(h.Test[1:], " ")}
	default:
		cmd = []string{"/bin/sh", "-c", strings.Join(h.Test, " ")}
	}
	seconds := func(d *types.Duration, def time.Duration) int32 {
		v := def
		if d != nil && *d > 0 {
			v = time.Duration(*d)
		}
		return int32(max(1, math.Ceil(v.Seconds())))
	}
	retries := int32(3)
	if h.Retries != nil && *h.Retries > 0 {
		retries = int32(min(*h.Retries, math.MaxInt32))
	}
	probe := corev1.Probe{
		ProbeHandler:     corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: cmd}},
		PeriodSeconds:    seconds(h.Interval, 30*time.Second),
		TimeoutSeconds:   seconds(h.Timeout, 30*time.Second),
		FailureThreshold: retries,
	}
	ready := probe
	live := probe
	if h.StartPeriod != nil && *h.StartPeriod > 0 {
		live.InitialDelaySeconds = seconds(h.StartPeriod, 0)
	}
	ctr.ReadinessProbe, ctr.LivenessProbe = &ready, &live
}

// hooks map post_start and pre_stop to the container's lifecycle: one exec
// each, in the container's own user and environment.
func (c *conv) hooks(s types.ServiceConfig, ctr *corev1.Container) {
	one := func(key string, hooks []types.ServiceHook) *corev1.LifecycleHandler {
		if len(hooks) == 0 {
			return nil
		}
		if len(hooks) > 1 {
			c.warnPart(s.Name, key, "a container has one hook of each kind: only the first is kept")
		}
		h := hooks[0]
		if h.User != "" || h.Privileged || h.WorkingDir != "" || len(h.Environment) > 0 {
			c.warnPart(s.Name, key, "a hook runs as the container runs: its user, privileged, working_dir and environment are ignored")
		}
		return &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: escapeAll(h.Command)}}
	}
	post, pre := one("post_start", s.PostStart), one("pre_stop", s.PreStop)
	if post != nil || pre != nil {
		ctr.Lifecycle = &corev1.Lifecycle{PostStart: post, PreStop: pre}
	}
}
