package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/berth-dev/berth/errclass"
)

// pollEvery is how often Wait looks at the rollouts: a watch per kind
// would save requests but not time, at a project's size.
const pollEvery = 300 * time.Millisecond

// stuck are the reasons a container waits for something that retrying
// does not fix: a rollout with one of them fails at once.
var stuck = map[string]bool{
	"ImagePullBackOff": true, "ErrImagePull": false, "InvalidImageName": true, "ErrImageNeverPull": true,
	"CrashLoopBackOff": true, "CreateContainerConfigError": true, "CreateContainerError": true,
}

// Wait waits for the project's workloads to be rolled out: Deployments,
// StatefulSets and DaemonSets with every replica updated and ready, Jobs
// complete. Each is reported Waiting, then Ready (Completed for a Job).
// It fails, naming the pod and why, when a pod cannot start (its image
// cannot be pulled, it crashes in a loop: with its last log lines), a Job
// fails, a Deployment exceeds its progress deadline, or ctx's deadline
// passes.
func (c *Cluster) Wait(ctx context.Context, project string, services []string) error {
	ns := c.Namespace(project)
	var found []*unstructured.Unstructured
	for _, gvk := range workloads {
		r, err := c.resource(ctx, gvk, ns)
		if err != nil {
			return err
		}
		l, err := r.List(ctx, metav1.ListOptions{LabelSelector: selector(project, services...)})
		if err != nil {
			return c.fail(fmt.Sprintf("listing the %ss of project %q", gvk.Kind, project), err)
		}
		for i := range l.Items {
			found = append(found, &l.Items[i])
		}
	}
	return c.await(ctx, ns, found)
}

// await waits for the workload objects objs, each reported Waiting and
// then Ready or Completed, as Wait says.
func (c *Cluster) await(ctx context.Context, ns string, objs []*unstructured.Unstructured) error {
	var limit time.Duration
	if d, ok := ctx.Deadline(); ok {
		limit = time.Until(d).Round(time.Second)
	}
	pending := map[string]*unstructured.Unstructured{}
	var order []string
	for _, u := range objs {
		k := key(u.GetKind(), u.GetName())
		pending[k] = u
		order = append(order, k)
		c.report(u.GetKind(), u.GetName(), "Waiting")
	}
	for {
		for _, k := range order {
			u, ok := pending[k]
			if !ok {
				continue
			}
			r, err := c.resource(ctx, u.GroupVersionKind(), ns)
			if err != nil {
				return err
			}
			cur, err := r.Get(ctx, u.GetName(), metav1.GetOptions{})
			if err != nil {
				return c.wrapWait(ctx, limit, c.fail("reading "+what(u, u.GetKind()), err))
			}
			done, status, err := rolledOut(cur)
			if err != nil {
				c.report(u.GetKind(), u.GetName(), "Error")
				return fmt.Errorf("%s: %w", what(u, u.GetKind()), err)
			}
			if done && cur.GetKind() != "Job" {
				done = c.settled(ctx, ns, cur)
			}
			if done {
				delete(pending, k)
				c.report(u.GetKind(), u.GetName(), status)
				continue
			}
			if why := c.podTrouble(ctx, ns, cur); why != "" {
				c.report(u.GetKind(), u.GetName(), "Error")
				return errclass.New(errclass.ErrFailed, "%s is not ready: %s", what(u, u.GetKind()), why)
			}
		}
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			var names []string
			for _, k := range order {
				if u, ok := pending[k]; ok {
					why := c.podTrouble(context.Background(), ns, u)
					if why == "" {
						why = c.notReady(context.Background(), ns, u)
					}
					names = append(names, fmt.Sprintf("%s (%s)", what(u, u.GetKind()), why))
				}
			}
			return c.wrapWait(ctx, limit, fmt.Errorf("%w: %s", ctx.Err(), strings.Join(names, "; ")))
		case <-time.After(pollEvery):
		}
	}
}

// wrapWait says a wait's deadline in the user's words; the user's own
// interrupt (Canceled) goes up as it is.
func (c *Cluster) wrapWait(ctx context.Context, limit time.Duration, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return errclass.New(errclass.ErrFailed, "timeout waiting for the project to be ready after %s: %s",
			limit, strings.TrimPrefix(err.Error(), context.DeadlineExceeded.Error()+": "))
	}
	return err
}

// rolledOut says whether a workload is rolled out, its status word when
// it is, and an error when it never will be.
func rolledOut(u *unstructured.Unstructured) (bool, string, error) {
	i := func(path ...string) int64 {
		v, _, _ := unstructured.NestedInt64(u.Object, path...)
		return v
	}
	replicas := func() int64 {
		if v, ok, _ := unstructured.NestedInt64(u.Object, "spec", "replicas"); ok {
			return v
		}
		return 1
	}
	observed := i("status", "observedGeneration") >= u.GetGeneration()
	switch u.GetKind() {
	case "Deployment":
		for _, cnd := range conditions(u) {
			if cnd["type"] == "Progressing" && cnd["reason"] == "ProgressDeadlineExceeded" {
				return false, "", errclass.New(errclass.ErrFailed, "rollout exceeded its progress deadline: %v", cnd["message"])
			}
		}
		n := replicas()
		return observed && i("status", "updatedReplicas") == n && i("status", "replicas") == n &&
			i("status", "availableReplicas") == n, "Ready", nil
	case "StatefulSet":
		n := replicas()
		cur, _, _ := unstructured.NestedString(u.Object, "status", "currentRevision")
		upd, _, _ := unstructured.NestedString(u.Object, "status", "updateRevision")
		return observed && i("status", "readyReplicas") == n && i("status", "updatedReplicas") == n && cur == upd, "Ready", nil
	case "DaemonSet":
		n := i("status", "desiredNumberScheduled")
		return observed && i("status", "updatedNumberScheduled") == n && i("status", "numberReady") == n, "Ready", nil
	case "Job":
		for _, cnd := range conditions(u) {
			if cnd["status"] != "True" {
				continue
			}
			switch cnd["type"] {
			case "Complete":
				return true, "Completed", nil
			case "Failed":
				return false, "", errclass.New(errclass.ErrFailed, "the job failed: %v: %v", cnd["reason"], cnd["message"])
			}
		}
	}
	return false, "", nil
}

func conditions(u *unstructured.Unstructured) []map[string]any {
	l, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var out []map[string]any
	for _, c := range l {
		if m, ok := c.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// podTrouble is why a workload's pod cannot become ready, when it is for
// a reason that waiting does not fix: "" otherwise.
func (c *Cluster) podTrouble(ctx context.Context, ns string, u *unstructured.Unstructured) string {
	pods, err := c.workloadPods(ctx, ns, u)
	if err != nil {
		return ""
	}
	for _, p := range pods {
		for _, st := range statuses(p) {
			if t := st.State.Terminated; t != nil && st.RestartCount > 0 && p.Spec.RestartPolicy == corev1.RestartPolicyAlways {
				// between its restarts a crashing container is
				// terminated, or waiting in CrashLoopBackOff: either way
				// it has exited again after a restart
				return c.crashed(ctx, ns, p, st, t.ExitCode, false)
			}
			w := st.State.Waiting
			if w == nil || !stuck[w.Reason] {
				continue
			}
			if w.Reason == "CrashLoopBackOff" {
				code := int32(0)
				if t := st.LastTerminationState.Terminated; t != nil {
					code = t.ExitCode
				}
				return c.crashed(ctx, ns, p, st, code, true)
			}
			why := fmt.Sprintf("pod %s: container %s: %s", p.Name, st.Name, w.Reason)
			if w.Message != "" {
				why += ": " + w.Message
			}
			return why
		}
	}
	return ""
}

// crashed says that a container of p crashes in a loop: its exit code,
// its restarts and the last lines it logged (its previous run's when it
// waits to restart).
func (c *Cluster) crashed(ctx context.Context, ns string, p corev1.Pod, st corev1.ContainerStatus, code int32, previous bool) string {
	why := fmt.Sprintf("pod %s: container %s: CrashLoopBackOff (exit code %d, %d restarts)", p.Name, st.Name, code, st.RestartCount)
	if lines := c.lastLines(ctx, ns, p.Name, st.Name, 5, previous); lines != "" {
		why += "; last log lines: " + lines
	}
	return why
}

// settle is how long a workload's containers must have run for it to be
// Ready: a container that exits at once is running, and its pod ready,
// for the moment before the kubelet sees it exit, long enough for a
// Deployment to count it available.
const settle = 2 * time.Second

// settled says whether every pod of a rolled-out workload has its
// containers running and ready, each for settle at least.
func (c *Cluster) settled(ctx context.Context, ns string, u *unstructured.Unstructured) bool {
	pods, err := c.workloadPods(ctx, ns, u)
	if err != nil {
		return false
	}
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		for _, st := range p.Status.ContainerStatuses {
			if !st.Ready || st.State.Running == nil || time.Since(st.State.Running.StartedAt.Time) < settle {
				return false
			}
		}
	}
	return true
}

// notReady names a workload's first pod that is not ready, and its state.
func (c *Cluster) notReady(ctx context.Context, ns string, u *unstructured.Unstructured) string {
	pods, err := c.workloadPods(ctx, ns, u)
	if err != nil || len(pods) == 0 {
		return "no pod"
	}
	for _, p := range pods {
		if st := podStatus(p); st != "Running" && st != "Succeeded" {
			return fmt.Sprintf("pod %s: %s", p.Name, st)
		}
	}
	return "pods not ready"
}

// workloadPods are the pods of a workload, by its selector.
func (c *Cluster) workloadPods(ctx context.Context, ns string, u *unstructured.Unstructured) ([]corev1.Pod, error) {
	sel, ok, _ := unstructured.NestedStringMap(u.Object, "spec", "selector", "matchLabels")
	if !ok {
		return nil, nil
	}
	return c.pods(ctx, ns, metav1.FormatLabelSelector(&metav1.LabelSelector{MatchLabels: sel}))
}

var podKind = schema.GroupVersionKind{Version: "v1", Kind: "Pod"}

// pods are the pods sel selects in ns.
func (c *Cluster) pods(ctx context.Context, ns, sel string) ([]corev1.Pod, error) {
	r, err := c.resource(ctx, podKind, ns)
	if err != nil {
		return nil, err
	}
	l, err := r.List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, c.fail(fmt.Sprintf("listing the pods of namespace %q", ns), err)
	}
	return podsOf(l)
}

// podsOf are the pods of a list the dynamic client read.
func podsOf(l *unstructured.UnstructuredList) ([]corev1.Pod, error) {
	out := make([]corev1.Pod, len(l.Items))
	for i := range l.Items {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(l.Items[i].Object, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}
