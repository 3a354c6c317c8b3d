package kube_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/internal/fixture"
	"github.com/berth-dev/berth/kube"
	"github.com/berth-dev/berth/project"
	"github.com/compose-spec/compose-go/v2/types"
)

// convert loads compose (and files beside it) as berth loads a project and
// converts it.
func convert(t *testing.T, compose string, files map[string]string, o kube.Options) (*kube.Result, error) {
	t.Helper()
	return kube.Convert(load(t, compose, files), o)
}

// load loads compose, and files beside it, as berth loads a project: named
// shop unless it names itself.
func load(t *testing.T, compose string, files map[string]string) *types.Project {
	t.Helper()
	dir := fixture.Dir(t, mapsWith(files, "compose.yaml", compose))
	name := "shop"
	if strings.HasPrefix(compose, "name:") {
		name = ""
	}
	p, err := project.Load(context.Background(), project.Options{Files: []string{filepath.Join(dir, "compose.yaml")}, Name: name})
	if err != nil {
		t.Fatalf("loading: %v", err)
	}
	return p.Project
}

func mapsWith(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range m {
		out[a] = b
	}
	return out
}

func mustConvert(t *testing.T, compose string, o kube.Options) *kube.Result {
	t.Helper()
	r, err := convert(t, compose, nil, o)
	if err != nil {
		t.Fatalf("convert: %v", err)
	}
	return r
}

// find is the object of kind and name, as its typed struct.
func find[T kube.Object](t *testing.T, r *kube.Result, name string) T {
	t.Helper()
	for _, o := range r.Objects {
		if x, ok := o.(T); ok && o.GetName() == name {
			return x
		}
	}
	var zero T
	t.Fatalf("no %T named %q in %v", zero, name, names(r))
	return zero
}

func names(r *kube.Result) []string {
	var out []string
	for _, o := range r.Objects {
		out = append(out, o.GetObjectKind().GroupVersionKind().Kind+"/"+o.GetName())
	}
	return out
}

func hasWarning(t *testing.T, r *kube.Result, parts ...string) {
	t.Helper()
	for _, w := range r.Warnings {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(w, p)
		}
		if ok {
			return
		}
	}
	t.Errorf("no warning with %q in:\n%s", parts, strings.Join(r.Warnings, "\n"))
}

func TestDeploymentFields(t *testing.T) {
	r := mustConvert(t, `
services:
  web:
    image: nginx:1.27
    entrypoint: [/docker-entrypoint.sh]
    command: [nginx, -g, "daemon off;", "$$(not)"]
    environment: {B: "2", A: "x$$(HOME)"}
    working_dir: /srv
    user: "1000:2000"
    labels: {tier: front, "note": "two words"}
    stop_grace_period: 1500ms
    deploy:
      replicas: 3
      resources:
        limits: {cpus: "0.5", memory: 256M}
        reservations: {cpus: "0.25", memory: 64M}
    healthcheck:
      test: ["CMD-SHELL", "curl -f localhost"]
      interval: 10s
      timeout: 2s
      retries: 5
      start_period: 20s
    read_only: true
    privileged: true
    cap_add: [CAP_NET_ADMIN]
    cap_drop: [ALL]
    tmpfs: ["/run:size=64m"]
    shm_size: 128m
    sysctls: {net.ipv4.tcp_syncookies: "1", net.core.somaxconn: "1024"}
    security_opt: [no-new-privileges:true]
    pull_policy: always
`, kube.Options{})
	d := find[*appsv1.Deployment](t, r, "web")
	if *d.Spec.Replicas != 3 {
		t.Errorf("replicas = %d, want 3", *d.Spec.Replicas)
	}
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	if c.Image != "nginx:1.27" || c.ImagePullPolicy != corev1.PullAlways || c.WorkingDir != "/srv" {
		t.Errorf("image %q policy %q workdir %q", c.Image, c.ImagePullPolicy, c.WorkingDir)
	}
	if !slices.Equal(c.Command, []string{"/docker-entrypoint.sh"}) || !slices.Equal(c.Args, []string{"nginx", "-g", "daemon off;", "$$(not)"}) {
		t.Errorf("command %q args %q: entrypoint is the command, command the args, $( escaped", c.Command, c.Args)
	}
	if len(c.Env) != 2 || c.Env[0] != (corev1.EnvVar{Name: "A", Value: "x$$(HOME)"}) || c.Env[1].Name != "B" {
		t.Errorf("env = %v, want A (escaped) then B", c.Env)
	}
	sc := c.SecurityContext
	if *sc.RunAsUser != 1000 || *sc.RunAsGroup != 2000 || !*sc.ReadOnlyRootFilesystem || !*sc.Privileged || *sc.AllowPrivilegeEscalation {
		t.Errorf("security context %+v", sc)
	}
	if !slices.Equal(sc.Capabilities.Add, []corev1.Capability{"NET_ADMIN"}) || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("capabilities %+v", sc.Capabilities)
	}
	if d.Labels["tier"] != "front" || d.Spec.Template.Labels["tier"] != "front" || d.Spec.Template.Annotations["note"] != "two words" {
		t.Errorf("labels %v template %v annotations %v", d.Labels, d.Spec.Template.Labels, d.Spec.Template.Annotations)
	}
	if *pod.TerminationGracePeriodSeconds != 2 {
		t.Errorf("grace = %d, want 1.5s rounded up", *pod.TerminationGracePeriodSeconds)
	}
	want := map[string]string{"limits.cpu": "500m", "limits.memory": "256Mi", "requests.cpu": "250m", "requests.memory": "64Mi"}
	got := map[string]string{"limits.cpu": c.Resources.Limits.Cpu().String(), "limits.memory": c.Resources.Limits.Memory().String(),
		"requests.cpu": c.Resources.Requests.Cpu().String(), "requests.memory": c.Resources.Requests.Memory().String()}
	for k := range want {
		if got[k] != want[k] {
			t.Errorf("%s = %s, want %s", k, got[k], want[k])
		}
	}
	for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe} {
		if p == nil || !slices.Equal(p.Exec.Command, []string{"/bin/sh", "-c", "curl -f localhost"}) || p.PeriodSeconds != 10 || p.TimeoutSeconds != 2 || p.FailureThreshold != 5 {
			t.Errorf("probe %+v", p)
		}
	}
	if c.LivenessProbe.InitialDelaySeconds != 20 || c.ReadinessProbe.InitialDelaySeconds != 0 {
		t.Errorf("start_period: liveness delay %d, readiness %d", c.LivenessProbe.InitialDelaySeconds, c.ReadinessProbe.InitialDelaySeconds)
	}
	mem := map[string]string{}
	for _, v := range pod.Volumes {
		if v.EmptyDir != nil && v.EmptyDir.Medium == corev1.StorageMediumMemory {
			mem[v.Name] = v.EmptyDir.SizeLimit.String()
		}
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = mem[m.Name]
	}
	if mounts["/run"] != "64Mi" || mounts["/dev/shm"] != "128Mi" {
		t.Errorf("memory mounts %v, want /run 64Mi and /dev/shm 128Mi", mounts)
	}
	if len(pod.SecurityContext.Sysctls) != 1 || pod.SecurityContext.Sysctls[0].Name != "net.ipv4.tcp_syncookies" {
		t.Errorf("sysctls %v, want the safe one only", pod.SecurityContext.Sysctls)
	}
	hasWarning(t, r, `service "web"`, `key "sysctls"`, "net.core.somaxconn")
}

func TestWarnings(t *testing.T) {
	r := mustConvert(t, `
services:
  app:
    image: app
    user: nobody
    init: true
    ulimits: {nofile: 1024}
    container_name: the-app
    models: [llm]
    restart: "no"
    ipc: host
    deploy:
      placement: {constraints: [node.role==manager]}
    volumes:
      - {type: volume, source: data, target: /data, consistency: cached}
    depends_on:
      db: {condition: service_healthy}
      cache: {condition: service_healthy}
  db:
    image: db
  cache:
    image: cache
    healthcheck: {test: ["CMD", "true"]}
volumes:
  data: {}
models:
  llm: {model: ai/smollm2}
`, kube.Options{})
	for _, w := range [][]string{
		{`key "models" is not supported on Kubernetes`, "models are not converted"},
		{`service "app": key "models" is not supported on Kubernetes`},
		{`service "app": key "user"`, "nobody"},
		{`service "app": key "ulimits" is not supported on Kubernetes and is ignored`},
		{`service "app": key "container_name"`},
		{`service "app": key "restart"`, "always restarted"},
		{`service "app": key "deploy.placement"`},
		{`service "app": key "volumes.consistency"`},
		{`service "app": key "depends_on": "db" has no healthcheck in the compose file`, "healthy once its pods run"},
	} {
		hasWarning(t, r, w...)
	}
	for _, w := range r.Warnings {
		if strings.Contains(w, `"cache" has no healthcheck`) {
			t.Errorf("warning %q: cache has a healthcheck", w)
		}
	}
	for _, w := range r.Warnings {
		if strings.Contains(w, `"ipc"`) || strings.Contains(w, "\n") {
			t.Errorf("warning %q: ipc host is mapped, warnings are one line", w)
		}
	}
	s := find[*appsv1.StatefulSet](t, r, "app")
	if sp := s.Spec.Template.Spec.ShareProcessNamespace; sp == nil || !*sp {
		t.Errorf("init: true: shareProcessNamespace %v, want true (the pause process PID 1)", sp)
	}
	if !s.Spec.Template.Spec.HostIPC {
		t.Error("ipc: host is not hostIPC")
	}
}

func TestWorkloadKinds(t *testing.T) {
	r := mustConvert(t, `
services:
  db:
    image: postgres
    volumes: [data:/var/lib/postgresql/data]
  cache:
    image: redis
    scale: 2
    volumes: [data:/data]
  agent:
    image: agent
    deploy: {mode: global}
  migrate:
    image: migrate
    restart: on-failure
    deploy: {restart_policy: {max_attempts: 2}}
  web:
    image: web
    depends_on:
      db: {condition: service_healthy}
      migrate: {condition: service_completed_successfully}
volumes:
  data:
    driver_opts: {size: 5g}
`, kube.Options{StorageClass: "fast"})
	s := find[*appsv1.StatefulSet](t, r, "db")
	if *s.Spec.Replicas != 1 || s.Spec.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "data" {
		t.Errorf("db: %+v", s.Spec)
	}
	if d := find[*appsv1.Deployment](t, r, "cache"); *d.Spec.Replicas != 2 {
		t.Errorf("cache replicas %d", *d.Spec.Replicas)
	}
	hasWarning(t, r, `volume "data" is mounted by 3 pods`)
	find[*appsv1.DaemonSet](t, r, "agent")
	j := find[*batchv1.Job](t, r, "migrate")
	if j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure || *j.Spec.BackoffLimit != 2 {
		t.Errorf("job restart %q backoff %d", j.Spec.Template.Spec.RestartPolicy, *j.Spec.BackoffLimit)
	}
	web := find[*appsv1.Deployment](t, r, "web")
	if got := web.Annotations[kube.AnnotationDependsOn]; got != "db:service_healthy,migrate:service_completed_successfully" {
		t.Errorf("depends-on annotation %q", got)
	}
	pvc := find[*corev1.PersistentVolumeClaim](t, r, "data")
	if q := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; q.Cmp(resource.MustParse("5Gi")) != 0 || *pvc.Spec.StorageClassName != "fast" {
		t.Errorf("claim size %s class %v", q.String(), pvc.Spec.StorageClassName)
	}
	// dependencies are created first
	at := map[string]int{}
	for i, o := range r.Objects {
		at[o.GetObjectKind().GroupVersionKind().Kind+"/"+o.GetName()] = i
	}
	if at["Deployment/web"] < at["StatefulSet/db"] || at["Deployment/web"] < at["Job/migrate"] || at["StatefulSet/db"] < at["PersistentVolumeClaim/data"] {
		t.Errorf("order %v", names(r))
	}
}

func TestPorts(t *testing.T) {
	compose := `
services:
  web:
    image: web
    ports: ["8080:80", "30080:81/udp", "9000"]
    expose: ["9100-9101"]
    networks:
      default: {aliases: [www]}
`
	r := mustConvert(t, compose, kube.Options{})
	svc := find[*corev1.Service](t, r, "web")
	var targets []int32
	for _, p := range svc.Spec.Ports {
		targets = append(targets, p.TargetPort.IntVal)
	}
	if svc.Spec.Type != corev1.ServiceTypeClusterIP || !slices.Equal(targets, []int32{80, 81, 9000, 9100, 9101}) {
		t.Errorf("ClusterIP Service %s ports %v", svc.Spec.Type, targets)
	}
	if alias := find[*corev1.Service](t, r, "www"); alias.Spec.Selector[kube.LabelService] != "web" {
		t.Errorf("alias selector %v", alias.Spec.Selector)
	}
	pub := find[*corev1.Service](t, r, "web-published")
	if pub.Spec.Type != corev1.ServiceTypeNodePort || len(pub.Spec.Ports) != 3 {
		t.Fatalf("published %s %+v", pub.Spec.Type, pub.Spec.Ports)
	}
	if p := pub.Spec.Ports[0]; p.Port != 8080 || p.NodePort != 0 || p.TargetPort.IntVal != 80 {
		t.Errorf("8080:80 → %+v, want port 8080, node port left to the cluster", p)
	}
	if p := pub.Spec.Ports[1]; p.NodePort != 30080 || p.Protocol != corev1.ProtocolUDP {
		t.Errorf("30080:81/udp → %+v, want node port 30080 UDP", p)
	}
	hasWarning(t, r, `service "web": key "ports"`, "8080 is outside the NodePort range")

	r = mustConvert(t, compose, kube.Options{PublishAs: kube.PublishLoadBalancer})
	if pub := find[*corev1.Service](t, r, "web-published"); pub.Spec.Type != corev1.ServiceTypeLoadBalancer || len(pub.Spec.Ports) != 2 || pub.Spec.Ports[0].NodePort != 0 {
		t.Errorf("load balancer %s %+v", pub.Spec.Type, pub.Spec.Ports)
	}
}

func TestBindMounts(t *testing.T) {
	compose := `
services:
  web:
    image: web
    volumes: ["./site.conf:/etc/site.conf:ro"]
`
	files := map[string]string{"site.conf": "listen 80;\n"}
	_, err := convert(t, compose, files, kube.Options{})
	if err == nil || !errors.Is(err, errclass.ErrInvalid) || strings.Contains(err.Error(), "\n") ||
		!strings.Contains(err.Error(), `service "web": key "volumes"`) || !strings.Contains(err.Error(), "site.conf") {
		t.Fatalf("bind without --bind-as-configmap: %v, want a one-line error naming service, key and path", err)
	}
	r, err := convert(t, compose, files, kube.Options{BindAsConfigMap: true})
	if err != nil {
		t.Fatal(err)
	}
	cm := find[*corev1.ConfigMap](t, r, "web-volumes-0")
	if cm.Data["site.conf"] != "listen 80;\n" {
		t.Errorf("configmap data %v", cm.Data)
	}
	m := find[*appsv1.Deployment](t, r, "web").Spec.Template.Spec.Containers[0].VolumeMounts[0]
	if m.MountPath != "/etc/site.conf" || m.SubPath != "site.conf" || !m.ReadOnly {
		t.Errorf("mount %+v", m)
	}
	_, err = convert(t, `
services:
  web: {image: web, volumes: ["./site:/srv"]}
`, map[string]string{"site/index.html": "hi"}, kube.Options{BindAsConfigMap: true})
	if err == nil || !strings.Contains(err.Error(), `service "web": key "volumes"`) || !strings.Contains(err.Error(), "regular file") {
		t.Errorf("bind of a directory: %v", err)
	}
}

func TestConfigsAndSecrets(t *testing.T) {
	r, err := convert(t, `
services:
  web:
    image: web
    configs: [{source: site, target: /etc/site.conf, mode: 0440}]
    secrets: [token]
configs:
  site: {file: ./site.conf}
secrets:
  token: {file: ./token.txt}
`, map[string]string{"site.conf": "x=1\n", "token.txt": "s3cret"}, kube.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if cm := find[*corev1.ConfigMap](t, r, "site"); cm.Data["site"] != "x=1\n" {
		t.Errorf("configmap %v", cm.Data)
	}
	if s := find[*corev1.Secret](t, r, "token"); string(s.Data["token"]) != "s3cret" {
		t.Errorf("secret %v", s.Data)
	}
	pod := find[*appsv1.Deployment](t, r, "web").Spec.Template.Spec
	got := map[string]string{}
	for _, m := range pod.Containers[0].VolumeMounts {
		got[m.MountPath] = m.SubPath
	}
	if got["/etc/site.conf"] != "site" || got["/run/secrets/token"] != "token" {
		t.Errorf("mounts %v", got)
	}
	for _, v := range pod.Volumes {
		if v.ConfigMap != nil && (v.ConfigMap.Items[0].Mode == nil || *v.ConfigMap.Items[0].Mode != 0o440) {
			t.Errorf("config mode %v, want 0440", v.ConfigMap.Items[0].Mode)
		}
	}
}

func TestNetworkPolicies(t *testing.T) {
	r := mustConvert(t, `
services:
  web: {image: web, networks: [front, back]}
  db: {image: db, networks: [back]}
networks:
  front: {}
  back: {internal: true}
`, kube.Options{})
	back := find[*networkingv1.NetworkPolicy](t, r, "network-back")
	sel := back.Spec.PodSelector.MatchLabels
	web := find[*appsv1.Deployment](t, r, "web").Spec.Template.Labels
	db := find[*appsv1.Deployment](t, r, "db").Spec.Template.Labels
	for k, v := range sel {
		if web[k] != v || db[k] != v {
			t.Errorf("back's selector %v does not pick web %v and db %v", sel, web, db)
		}
	}
	if len(back.Spec.Egress) != 2 || back.Spec.Egress[0].To[0].PodSelector == nil {
		t.Errorf("internal network egress %+v, want its pods and DNS only", back.Spec.Egress)
	}
	front := find[*networkingv1.NetworkPolicy](t, r, "network-front")
	for k := range front.Spec.PodSelector.MatchLabels {
		if _, ok := db[k]; ok {
			t.Errorf("db is not on front but front's policy selects it")
		}
	}
	if len(front.Spec.Egress) != 1 || len(front.Spec.Egress[0].To) != 0 {
		t.Errorf("front egress %+v, want anywhere", front.Spec.Egress)
	}
}

func TestNames(t *testing.T) {
	r := mustConvert(t, "services:\n  my_app: {image: a, expose: ['80']}\n", kube.Options{})
	find[*corev1.Service](t, r, "my-app")
	if d := find[*appsv1.Deployment](t, r, "my-app"); d.Spec.Selector.MatchLabels[kube.LabelService] != "my_app" {
		t.Errorf("selector %v", d.Spec.Selector.MatchLabels)
	}
	hasWarning(t, r, `service "my_app": named "my-app"`)
	_, err := convert(t, "services:\n  my_app: {image: a}\n  my.app: {image: b}\n", nil, kube.Options{})
	if err == nil || !strings.Contains(err.Error(), `"my-app"`) {
		t.Errorf("two services named my-app: %v", err)
	}
}

// TestLabels: every object carries the project's labels, and every
// object of a service the service's.
func TestLabels(t *testing.T) {
	r, err := convert(t, `
services:
  web: {image: web, ports: ["80"], configs: [c], volumes: [v:/v], networks: [n]}
configs:
  c: {content: x}
volumes:
  v: {}
networks:
  n: {}
`, nil, kube.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range r.Objects {
		l := o.GetLabels()
		if l[kube.LabelManagedBy] != "berth" || l[kube.LabelPartOf] != "shop" || l[kube.LabelProject] != "shop" {
			t.Errorf("%s/%s labels %v", o.GetObjectKind().GroupVersionKind().Kind, o.GetName(), l)
		}
		if o.GetObjectKind().GroupVersionKind().Kind != "Namespace" && o.GetNamespace() != "shop" {
			t.Errorf("%s/%s in namespace %q", o.GetObjectKind().GroupVersionKind().Kind, o.GetName(), o.GetNamespace())
		}
	}
	for _, name := range []string{"web", "web-published"} {
		if l := find[*corev1.Service](t, r, name).Labels; l[kube.LabelService] != "web" || l[kube.LabelName] != "web" {
			t.Errorf("Service %s labels %v", name, l)
		}
	}
	r = mustConvert(t, "name: my_shop\nservices: {web: {image: web}}\n", kube.Options{})
	if ns := find[*corev1.Namespace](t, r, "my-shop"); ns.Labels[kube.LabelProject] != "my_shop" {
		t.Errorf("namespace labels %v", ns.Labels)
	}
	hasWarning(t, r, `project "my_shop" is "my-shop"`)
	r = mustConvert(t, "services: {web: {image: web}}\n", kube.Options{Namespace: "prod"})
	for _, o := range r.Objects {
		if o.GetObjectKind().GroupVersionKind().Kind == "Namespace" || o.GetNamespace() != "prod" {
			t.Errorf("--namespace prod: %s/%s in %q", o.GetObjectKind().GroupVersionKind().Kind, o.GetName(), o.GetNamespace())
		}
	}
}
