package kube

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/project"
)

// workloads are the kinds that run a service's pods, which Wait waits for.
var workloads = []schema.GroupVersionKind{
	{Group: "apps", Version: "v1", Kind: "Deployment"},
	{Group: "apps", Version: "v1", Kind: "StatefulSet"},
	{Group: "apps", Version: "v1", Kind: "DaemonSet"},
	{Group: "batch", Version: "v1", Kind: "Job"},
}

// prunable are the kinds berth makes in a project's namespace, which up
// lists to know what exists and deletes when the project no longer
// defines it. Claims are listed but never pruned: their data goes only
// with down -v, as a compose volume does.
var prunable = append([]schema.GroupVersionKind{
	{Version: "v1", Kind: "ConfigMap"},
	{Version: "v1", Kind: "Secret"},
	{Version: "v1", Kind: "PersistentVolumeClaim"},
	{Version: "v1", Kind: "Service"},
	{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"},
}, workloads...)

// namespaceKind is the kind of the project's namespace, which berth makes
// when the context names none.
var namespaceKind = schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}

// isWorkload says whether kind is one of workloads.
func isWorkload(kind string) bool {
	return slices.ContainsFunc(workloads, func(g schema.GroupVersionKind) bool { return g.Kind == kind })
}

// existing is what the cluster holds of a project, by kind/name.
type existing map[string]*unstructured.Unstructured

func key(kind, name string) string { return kind + "/" + name }

// list is every object of the project that berth made, in its namespace.
func (c *Cluster) list(ctx context.Context, project, ns string, services ...string) (existing, error) {
	out := existing{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(prunable))
	for i, gvk := range prunable {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.resource(ctx, gvk, ns)
			if err != nil {
				errs[i] = err
				return
			}
			l, err := r.List(ctx, metav1.ListOptions{LabelSelector: selector(project, services...)})
			if err != nil {
				errs[i] = c.fail(fmt.Sprintf("listing the %ss of project %q", gvk.Kind, project), err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for j := range l.Items {
				o := &l.Items[j]
				out[key(gvk.Kind, o.GetName())] = o
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// unstructuredOf is o as the JSON a server-side apply sends: no status,
// no null fields (an apply's null would ask for the field's removal).
func unstructuredOf(o Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return nil, fmt.Errorf("converting %s %q: %w", o.GetObjectKind().GroupVersionKind().Kind, o.GetName(), err)
	}
	delete(m, "status")
	dropNulls(m)
	return &unstructured.Unstructured{Object: m}, nil
}

func dropNulls(m map[string]any) {
	for k, v := range m {
		switch v := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			dropNulls(v)
		case []any:
			for _, e := range v {
				if em, ok := e.(map[string]any); ok {
					dropNulls(em)
				}
			}
		}
	}
}

// what names the service an object belongs to, for errors.
func what(o metav1.Object, kind string) string {
	if s := o.GetLabels()[LabelService]; s != "" {
		return fmt.Sprintf("service %q: %s %q", s, kind, o.GetName())
	}
	return fmt.Sprintf("%s %q", kind, o.GetName())
}

// Up applies the project's objects with server-side apply (field manager
// berth), each reported Created, Configured or Unchanged, then deletes
// what the project's labels find but the project no longer defines. It
// waits only where depends_on says to (a service's workload is applied
// once the services it waits for are ready or complete: dependencies),
// within ctx's deadline; for the rollouts, Wait does. With o.DryRun every object
// is sent with dryRun=All, the API server validating it, and nothing
// changes. A service with build: must name its image; with o.Build.Push
// the images are built and pushed first, and the pods pinned to them
// (build.go).
func (c *Cluster) Up(ctx context.Context, p *project.Project, o api.UpOptions) error {
	if len(o.Services) > 0 {
		return Unsupported("up SERVICE...")
	}
	if err := checkBuilds(p); err != nil {
		return err
	}
	if o.Build.Push && !o.DryRun {
		if err := c.buildPush(ctx, p, o.Build); err != nil {
			return err
		}
	}
	for name, n := range o.Scale {
		if s, ok := p.Services[name]; ok {
			s.SetScale(n)
			p.Services[name] = s
		}
	}
	opts := c.Options
	opts.Namespace = c.Namespace(p.Name)
	r, err := Convert(p.Project, opts)
	if err != nil {
		return err
	}
	for _, w := range r.Warnings {
		if c.Warn != nil {
			c.Warn(w)
		}
	}
	ns := opts.Namespace
	have, err := c.list(ctx, p.Name, ns)
	if err != nil {
		return err
	}
	nsr, err := c.resource(ctx, namespaceKind, "")
	if err != nil {
		return err
	}
	target := ns
	if cur, err := nsr.Get(ctx, ns, metav1.GetOptions{}); err == nil {
		have[key("Namespace", ns)] = cur
	} else if !apierrors.IsNotFound(err) {
		return c.fail(fmt.Sprintf("reading namespace %q", ns), err)
	} else if o.DryRun {
		// the API server refuses the objects of a namespace that does
		// not exist, even in a dry run: they are validated in "default"
		target = "default"
	}
	want := map[string]bool{}
	deps := dependencies{p: p, applied: map[string][]*unstructured.Unstructured{}, ready: map[string]bool{}}
	for _, obj := range r.Objects {
		kind := obj.GetObjectKind().GroupVersionKind().Kind
		if kind == "Namespace" && !c.ownNamespace() {
			continue // the context's: there already, and not berth's
		}
		want[key(kind, obj.GetName())] = true
		workload := isWorkload(kind)
		if workload && !o.DryRun {
			if err := deps.await(ctx, c, target, obj.GetLabels()[LabelService]); err != nil {
				return err
			}
		}
		got, err := c.apply(ctx, obj, have[key(kind, obj.GetName())], target, o.DryRun)
		if err != nil {
			return err
		}
		if workload {
			s := obj.GetLabels()[LabelService]
			deps.applied[s] = append(deps.applied[s], got)
		}
	}
	for _, k := range sortedKeys(have) {
		u := have[k]
		if want[k] || u.GetKind() == "PersistentVolumeClaim" || u.GetKind() == "Namespace" {
			continue
		}
		if o.DryRun {
			c.report(u.GetKind(), u.GetName(), "Delete (dry run): no longer in the project")
			continue
		}
		if err := c.delete(ctx, u, ns); err != nil {
			return err
		}
		c.report(u.GetKind(), u.GetName(), "Deleted")
	}
	return nil
}

// apply applies one object and returns what the cluster now has of it;
// old is what it had (nil: nothing).
func (c *Cluster) apply(ctx context.Context, obj Object, old *unstructured.Unstructured, ns string, dryRun bool) (*unstructured.Unstructured, error) {
	gvk := obj.GetObjectKind().GroupVersionKind()
	u, err := unstructuredOf(obj)
	if err != nil {
		return nil, err
	}
	if ns != u.GetNamespace() && u.GetNamespace() != "" {
		u.SetNamespace(ns)
	}
	r, err := c.resource(ctx, gvk, ns)
	if err != nil {
		return nil, err
	}
	ao := metav1.ApplyOptions{FieldManager: FieldManager, Force: true}
	if dryRun {
		ao.DryRun = []string{metav1.DryRunAll}
	}
	name := obj.GetName()
	got, err := r.Apply(ctx, name, u, ao)
	recreated := false
	if err != nil && gvk.Kind == "Job" && old != nil && apierrors.IsInvalid(err) && !dryRun {
		// a Job's pod template cannot change: a changed one-shot service
		// is a new Job, run again
		if err := c.delete(ctx, old, ns); err != nil {
			return nil, err
		}
		if err := c.gone(ctx, r, name); err != nil {
			return nil, err
		}
		got, err = r.Apply(ctx, name, u, ao)
		recreated = true
	}
	if err != nil {
		return nil, c.fail(what(obj, gvk.Kind), err)
	}
	status := "Created"
	switch {
	case recreated:
		status = "Recreated"
	case dryRun && old == nil:
		status = "Create (dry run): accepted by the API server"
	case dryRun && same(old, got):
		status = "Unchanged (dry run)"
	case dryRun:
		status = "Configure (dry run): accepted by the API server"
	case old == nil:
	case old.GetResourceVersion() == got.GetResourceVersion():
		status = "Unchanged"
	default:
		status = "Configured"
	}
	c.report(gvk.Kind, name, status)
	return got, nil
}

// same says whether a dry run's result is what the cluster has, but for
// the bookkeeping an apply touches.
func same(old, got *unstructured.Unstructured) bool {
	strip := func(u *unstructured.Unstructured) map[string]any {
		m := u.DeepCopy().Object
		unstructured.RemoveNestedField(m, "metadata", "managedFields")
		unstructured.RemoveNestedField(m, "metadata", "resourceVersion")
		unstructured.RemoveNestedField(m, "metadata", "generation")
		unstructured.RemoveNestedField(m, "status")
		return m
	}
	return reflect.DeepEqual(strip(old), strip(got))
}

// delete deletes u, its dependents (a Deployment's ReplicaSets and pods)
// in the background.
func (c *Cluster) delete(ctx context.Context, u *unstructured.Unstructured, ns string) error {
	r, err := c.resource(ctx, u.GroupVersionKind(), ns)
	if err != nil {
		return err
	}
	bg := metav1.DeletePropagationBackground
	if err := r.Delete(ctx, u.GetName(), metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
		return c.fail("deleting "+what(u, u.GetKind()), err)
	}
	return nil
}
