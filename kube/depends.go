package kube

import (
	"context"

	"github.com/compose-spec/compose-go/v2/types"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/berth-dev/berth/project"
)

// dependencies is how up keeps compose's depends_on conditions on a
// cluster, which has no start order of its own: a service's workload is
// applied only once the workloads of the services it waits for are
// ready (service_healthy: every replica ready, which its healthcheck,
// made a readiness probe, decides) or complete (service_completed_
// successfully: its Job). Applying later, rather than adding an init
// container that polls the dependency, needs no image the project does
// not name and no access to the API from inside the pod; the price is
// that the order holds for berth's up only, not for a kubectl apply of
// convert's manifests, nor for a pod the cluster restarts later (which
// compose does not order either).
type dependencies struct {
	p *project.Project
	// applied are the workloads this up applied, by service, as the
	// cluster returned them.
	applied map[string][]*unstructured.Unstructured
	// ready are the services found ready or complete already.
	ready map[string]bool
}

// await waits for the services that service waits for, by the condition
// its depends_on gives each. service_started is creation order alone: a
// dependency's workload is applied first because Convert orders them so.
func (d dependencies) await(ctx context.Context, c *Cluster, ns, service string) error {
	s, ok := d.p.Services[service]
	if !ok {
		return nil
	}
	var wait []*unstructured.Unstructured
	for _, dep := range sortedKeys(s.DependsOn) {
		switch s.DependsOn[dep].Condition {
		case types.ServiceConditionHealthy, types.ServiceConditionCompletedSuccessfully:
		default:
			continue
		}
		// a dependency the project does not run (another profile, or
		// required: false) has no workload here, and is not waited for
		if d.ready[dep] || len(d.applied[dep]) == 0 {
			continue
		}
		wait = append(wait, d.applied[dep]...)
		d.ready[dep] = true
	}
	if len(wait) == 0 {
		return nil
	}
	return c.await(ctx, ns, wait)
}
