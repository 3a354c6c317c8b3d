package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/berth-dev/berth/errclass"
)

// mapper maps kinds to REST resources from the cluster's discovery
// documents (/api/v1, /apis/GROUP/VERSION), read once per group-version
// and only for the kinds an operation uses. client-go's discovery package
// would do it too, but it links client-go/kubernetes/scheme, every API
// group's types (about 20 MB, and their registration at every berth
// command's start).
type mapper struct {
	rest rest.Interface
	mu   sync.Mutex
	docs map[schema.GroupVersion]*metav1.APIResourceList
}

// mapping is kind's resource, and whether it is namespaced.
func (m *mapper) mapping(ctx context.Context, gvk schema.GroupVersionKind) (schema.GroupVersionResource, bool, error) {
	gv := gvk.GroupVersion()
	m.mu.Lock()
	doc, ok := m.docs[gv]
	m.mu.Unlock()
	if !ok {
		path := "/apis/" + gv.Group + "/" + gv.Version
		if gv.Group == "" {
			path = "/api/" + gv.Version
		}
		b, err := m.rest.Get().AbsPath(path).DoRaw(ctx)
		if err != nil {
			return schema.GroupVersionResource{}, false, err
		}
		doc = &metav1.APIResourceList{}
		if err := json.Unmarshal(b, doc); err != nil {
			return schema.GroupVersionResource{}, false, fmt.Errorf("reading the discovery document %s: %w", path, err)
		}
		m.mu.Lock()
		m.docs[gv] = doc
		m.mu.Unlock()
	}
	for _, r := range doc.APIResources {
		if r.Kind == gvk.Kind && !strings.Contains(r.Name, "/") { // not a subresource
			return gv.WithResource(r.Name), r.Namespaced, nil
		}
	}
	return schema.GroupVersionResource{}, false, errclass.New(errclass.ErrNotFound, "the cluster serves no %s in %s", gvk.Kind, gv)
}

// resource is the dynamic client of kind, in namespace ns when it is
// namespaced.
func (c *Cluster) resource(ctx context.Context, gvk schema.GroupVersionKind, ns string) (dynamic.ResourceInterface, error) {
	gvr, namespaced, err := c.mapper.mapping(ctx, gvk)
	if err != nil {
		return nil, c.fail(fmt.Sprintf("finding the resource of %s", gvk.Kind), err)
	}
	if !namespaced {
		return c.dyn.Resource(gvr), nil
	}
	return c.dyn.Resource(gvr).Namespace(ns), nil
}
