package kube

import (
	"fmt"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/berth-dev/berth/errclass"
)

// Publishing types of Options.PublishAs.
const (
	PublishNodePort     = "nodeport"
	PublishLoadBalancer = "loadbalancer"
)

// Options are the choices a compose file cannot express.
type Options struct {
	// Namespace of every object; the project name when empty.
	Namespace string
	// PublishAs is the type of the Services of published ports:
	// PublishNodePort (the default) or PublishLoadBalancer.
	PublishAs string
	// StorageClass of the claims; the cluster's default when empty.
	StorageClass string
	// BindAsConfigMap turns a bind mount of a regular file of at most
	// 1 MiB into a ConfigMap, where it is otherwise refused.
	BindAsConfigMap bool
}

// Object is one Kubernetes object, a typed struct of k8s.io/api with its
// apiVersion and kind set.
type Object interface {
	metav1.Object
	runtime.Object
}

// Result is what Convert made.
type Result struct {
	// Objects in the order they apply in.
	Objects []Object
	// Warnings, one line each, for every key left out.
	Warnings []string
}

// Label keys berth puts on what it makes.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelName      = "app.kubernetes.io/name"
	LabelProject   = "com.docker.compose.project"
	LabelService   = "com.docker.compose.service"
	// AnnotationDependsOn lists a service's dependencies as name:condition.
	AnnotationDependsOn = "berth.dev/depends-on"
	networkLabel        = "com.docker.compose.network."
)

// maxData is what fits in a ConfigMap or Secret (etcd's object limit).
const maxData = 1 << 20

// conv holds one conversion's state.
type conv struct {
	p        *types.Project
	o        Options
	ns       string
	warnings []string
	warned   map[string]bool
	// names maps a compose service name to its object name.
	names map[string]string
	// completes are services another waits to complete: Jobs.
	completes map[string]bool

	configMaps, secrets, claims, services, policies, workloads []Object
	kinds                                                      map[string]string // kind/name → what made it
}

// Convert maps p to Kubernetes objects. A refused key is an error of class
// errclass.ErrInvalid naming service and key, and no objects.
func Convert(p *types.Project, o Options) (*Result, error) {
	c := &conv{p: p, o: o, ns: o.Namespace, warned: map[string]bool{}, names: map[string]string{},
		completes: map[string]bool{}, kinds: map[string]string{}}
	if c.ns == "" {
		c.ns = objectName(p.Name)
		if c.ns != p.Name {
			c.warn("", "the namespace of project %q is %q: namespaces are DNS labels", p.Name, c.ns)
		}
	}
	if errs := validation.IsDNS1123Label(c.ns); len(errs) > 0 {
		return nil, errclass.New(errclass.ErrInvalid, "namespace %q is not a valid Kubernetes name (%s): use --namespace", c.ns, errs[0])
	}
	switch o.PublishAs {
	case "", PublishNodePort, PublishLoadBalancer:
	default:
		return nil, errclass.New(errclass.ErrUsage, "--publish-as must be nodeport or loadbalancer, not %q", o.PublishAs)
	}
	if err := c.walkKeys(); err != nil {
		return nil, err
	}
	if err := c.nameServices(); err != nil {
		return nil, err
	}
	for _, name := range sortedKeys(p.Services) {
		s := p.Services[name]
		for _, dep := range sortedKeys(s.DependsOn) {
			switch s.DependsOn[dep].Condition {
			case types.ServiceConditionCompletedSuccessfully:
				c.completes[dep] = true
			case types.ServiceConditionHealthy:
				// compose takes the image's HEALTHCHECK too; a pod has
				// only the probes the compose file gives
				if d, ok := p.Services[dep]; ok && (d.HealthCheck == nil || d.HealthCheck.Disable) {
					c.warnPart(name, "depends_on", fmt.Sprintf("%q has no healthcheck in the compose file, so it has no readiness probe: "+
						"on Kubernetes it counts as healthy once its pods run (an image's HEALTHCHECK is no probe)", dep))
				}
			}
		}
	}
	if err := c.configsAndSecrets(); err != nil {
		return nil, err
	}
	if err := c.volumes(); err != nil {
		return nil, err
	}
	if err := c.networks(); err != nil {
		return nil, err
	}
	for _, name := range c.order() {
		if err := c.service(p.Services[name]); err != nil {
			return nil, err
		}
	}
	nsObj := &corev1.Namespace{TypeMeta: typeMeta("v1", "Namespace"), ObjectMeta: metav1.ObjectMeta{Name: c.ns, Labels: c.labels("")}}
	r := &Result{Warnings: c.warnings}
	if o.Namespace == "" || o.Namespace == objectName(p.Name) {
		r.Objects = append(r.Objects, nsObj)
	}
	for _, group := range [][]Object{c.configMaps, c.secrets, c.claims, c.services, c.policies, c.workloads} {
		r.Objects = append(r.Objects, group...)
	}
	return r, nil
}

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

// warn records one warning line, once.
func (c *conv) warn(service, format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	if service != "" {
		s = fmt.Sprintf("service %q: %s", service, s)
	}
	if !c.warned[s] {
		c.warned[s] = true
		c.warnings = append(c.warnings, s)
	}
}

// warnKey is the warning for a key (or one of its values) left out.
func (c *conv) warnKey(service, key, why string) {
	c.warn(service, "key %q is not supported on Kubernetes and is ignored: %s", key, why)
}

// warnPart is the warning for a value of a mapped key left out or
// changed; why says which and how.
func (c *conv) warnPart(service, key, why string) {
	c.warn(service, "key %q: %s", key, why)
}

// refuse is the error for a key that cannot be converted.
func refuse(service, key, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if service == "" {
		return errclass.New(errclass.ErrInvalid, "key %q cannot be converted to Kubernetes: %s", key, msg)
	}
	return errclass.New(errclass.ErrInvalid, "service %q: key %q cannot be converted to Kubernetes: %s", service, key, msg)
}

// walkKeys warns for every key no rule maps, and refuses what a rule refuses.
func (c *conv) walkKeys() error {
	var refused error
	report := func(f finding) {
		if f.rule.Status == Refused {
			if refused == nil {
				refused = errclass.New(errclass.ErrInvalid, "%s", f)
			}
			return
		}
		c.warn("", "%s", f)
	}
	for _, name := range sortedKeys(c.p.Services) {
		s := c.p.Services[name]
		if s.Build != nil {
			// compose-go cannot render every build as JSON (build.ssh),
			// and the whole key is warned anyway.
			walk([]string{"services", name, "build"}, map[string]any{"context": s.Build.Context}, name, report)
			s.Build = nil
		}
		if err := keysOf([]string{"services", name}, s, name, report); err != nil {
			return err
		}
	}
	for _, name := range sortedKeys(c.p.Networks) {
		if err := keysOf([]string{"networks", name}, c.p.Networks[name], "", report); err != nil {
			return err
		}
	}
	for _, name := range sortedKeys(c.p.Volumes) {
		if err := keysOf([]string{"volumes", name}, c.p.Volumes[name], "", report); err != nil {
			return err
		}
	}
	for _, name := range sortedKeys(c.p.Configs) {
		if err := keysOf([]string{"configs", name}, c.p.Configs[name], "", report); err != nil {
			return err
		}
	}
	for _, name := range sortedKeys(c.p.Secrets) {
		if err := keysOf([]string{"secrets", name}, c.p.Secrets[name], "", report); err != nil {
			return err
		}
	}
	// top-level keys with no Kubernetes form at all
	if len(c.p.Jobs) > 0 {
		walk([]string{"jobs"}, map[string]any{"jobs": true}, "", report)
	}
	if len(c.p.Models) > 0 {
		walk([]string{"models"}, map[string]any{"models": true}, "", report)
	}
	return refused
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// objectName is a compose name as a DNS label.
func objectName(s string) string {
	s = strings.ToLower(s)
	s = strings.NewReplacer("_", "-", ".", "-").Replace(s)
	return strings.Trim(s, "-")
}

// nameServices gives each service its object name, warning when it differs
// and refusing names Kubernetes cannot take or two services would share.
func (c *conv) nameServices() error {
	by := map[string]string{}
	for _, name := range sortedKeys(c.p.Services) {
		n := objectName(name)
		if errs := validation.IsDNS1035Label(n); len(errs) > 0 {
			return errclass.New(errclass.ErrInvalid, "service %q: its name cannot be a Kubernetes Service name (%s): rename the service", name, errs[0])
		}
		if other, ok := by[n]; ok {
			return errclass.New(errclass.ErrInvalid, "services %q and %q would both be named %q on Kubernetes: rename one", other, name, n)
		}
		if errs := validation.IsValidLabelValue(name); len(errs) > 0 {
			return errclass.New(errclass.ErrInvalid, "service %q: its name cannot be a Kubernetes label value (%s): rename the service", name, errs[0])
		}
		by[n] = name
		c.names[name] = n
		if n != name {
			c.warn(name, "named %q on Kubernetes, where names are DNS labels: other services reach it by that name", n)
		}
	}
	return nil
}

// claim registers an object name of a kind, refusing a second object of
// the same kind and name.
func (c *conv) claim(kind, name, what string) error {
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return errclass.New(errclass.ErrInvalid, "%s cannot be %s %q on Kubernetes (%s): rename it", what, kind, name, errs[0])
	}
	k := kind + "/" + name
	if prev, ok := c.kinds[k]; ok {
		return errclass.New(errclass.ErrInvalid, "%s and %s would both be %s %q on Kubernetes: rename one", prev, what, kind, name)
	}
	c.kinds[k] = what
	return nil
}

// labels are the labels of an object of service (or of the project, "").
func (c *conv) labels(service string) map[string]string {
	l := map[string]string{
		LabelManagedBy: "berth",
		LabelPartOf:    c.p.Name,
		LabelProject:   c.p.Name,
	}
	if service != "" {
		l[LabelName] = c.names[service]
		l[LabelService] = service
	}
	return l
}

// selector picks the pods of a service.
func (c *conv) selector(service string) map[string]string {
	return map[string]string{LabelProject: c.p.Name, LabelService: service}
}

func (c *conv) meta(name, service string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: c.ns, Labels: c.labels(service)}
}

// userLabels splits compose labels into those Kubernetes takes as labels
// and the rest, kept as annotations.
func userLabels(in map[string]string) (labels, annotations map[string]string) {
	for _, k := range sortedKeys(in) {
		v := in[k]
		if len(validation.IsQualifiedName(k)) == 0 && len(validation.IsValidLabelValue(v)) == 0 {
			if labels == nil {
				labels = map[string]string{}
			}
			labels[k] = v
			continue
		}
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[k] = v
	}
	return labels, annotations
}

func merge(dst map[string]string, srcs ...map[string]string) map[string]string {
	for _, src := range srcs {
		for k, v := range src {
			if dst == nil {
				dst = map[string]string{}
			}
			if _, ours := dst[k]; !ours {
				dst[k] = v
			}
		}
	}
	return dst
}

// order is the services in depends_on order, dependencies first, each
// level in name order, so the same file always converts the same.
func (c *conv) order() []string {
	var out []string
	seen := map[string]bool{}
	var visit func(string)
	visit = func(n string) {
		if seen[n] {
			return
		}
		seen[n] = true
		s, ok := c.p.Services[n]
		if !ok {
			return
		}
		for _, d := range sortedKeys(s.DependsOn) {
			visit(d)
		}
		out = append(out, n)
	}
	for _, n := range sortedKeys(c.p.Services) {
		visit(n)
	}
	return out
}
