package kube

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/berth-dev/berth/api"
)

// followPods is logs -f: the log of each pod of the services, those there
// are when it starts and those that appear later (a rollout's, a scale's),
// as compose's logs -f follows the containers that start meanwhile. It
// watches the project's pods by label and streams each pod once its
// container has run, and again after each restart of it. A pod keeps its
// service-N while it is followed; one that appears later gets the next N
// of its service (web-3 after web-1 and web-2), never one another pod had,
// so that a prefix names one pod. The pods there are at the start are
// numbered as logs without -f numbers them, and only their streams are cut
// to --tail: a pod that appears later, or a container's next run, is shown
// from its start. It ends when ctx does (a Deployment's pods always come
// back), or at an error no retry mends (RBAC, an unreachable cluster).
func (c *Cluster) followPods(ctx context.Context, project string, services []string, o api.LogsOptions, lc api.LogConsumer) error {
	ns := c.Namespace(project)
	sel := selector(project, services...)
	r, err := c.resource(ctx, podKind, ns)
	if err != nil {
		return err
	}
	fctx, stop := context.WithCancelCause(ctx)
	f := &podFollower{c: c, ctx: fctx, fail: stop, ns: ns, o: o, lc: lc, pods: map[types.UID]*followedPod{}, last: map[string]int{}}
	defer func() {
		// the streams end with fctx
		stop(nil)
		f.wg.Wait()
	}()
	for initial := true; ; initial = false {
		l, err := r.List(fctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return f.end(ctx, c.fail(fmt.Sprintf("listing the pods of namespace %q", ns), err))
		}
		pods, err := podsOf(l)
		if err != nil {
			return f.end(ctx, err)
		}
		// numbered as servicePods orders them
		slices.SortFunc(pods, func(a, b corev1.Pod) int {
			return cmp.Or(cmp.Compare(a.Labels[LabelService], b.Labels[LabelService]), madeFirst(a, b))
		})
		for _, p := range pods {
			f.see(p, initial)
		}
		w, err := r.Watch(fctx, metav1.ListOptions{LabelSelector: sel, ResourceVersion: l.GetResourceVersion(), AllowWatchBookmarks: true})
		if err != nil {
			return f.end(ctx, c.fail(fmt.Sprintf("watching the pods of namespace %q", ns), err))
		}
		f.watch(w)
		w.Stop()
		// the server ended the watch (its timeout, a resourceVersion too
		// old): list again, which also sees what the gap hid
		select {
		case <-fctx.Done():
			return f.end(ctx, nil)
		case <-time.After(pollEvery):
		}
	}
}

// podFollower is the state of one followPods.
type podFollower struct {
	c    *Cluster
	ctx  context.Context
	fail context.CancelCauseFunc // ends the whole follow with an error
	ns   string
	o    api.LogsOptions
	lc   api.LogConsumer
	wg   sync.WaitGroup

	mu   sync.Mutex
	pods map[types.UID]*followedPod // by UID: a StatefulSet's new pod has its old one's name
	last map[string]int             // the last N given, by service
}

// followedPod is one pod of a follow: its name in the output and what
// was streamed of it.
type followedPod struct {
	name      string
	shown     bool // --index
	pod       corev1.Pod
	streaming bool
	streams   int   // streams begun of it
	restarts  int32 // its container's restart count when the last began
}

// watch handles w's events until it ends.
func (f *podFollower) watch(w watch.Interface) {
	for {
		var ev watch.Event
		select {
		case <-f.ctx.Done():
			return
		case e, ok := <-w.ResultChan():
			if !ok {
				return
			}
			ev = e
		}
		u, ok := ev.Object.(*unstructured.Unstructured)
		switch {
		case ev.Type == watch.Error:
			return
		case !ok:
		case ev.Type == watch.Deleted:
			// its stream, if any, ends by itself; its N is not given again
			f.mu.Lock()
			delete(f.pods, u.GetUID())
			f.mu.Unlock()
		case ev.Type == watch.Added, ev.Type == watch.Modified:
			var p corev1.Pod
			if runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &p) == nil {
				f.see(p, false)
			}
		}
	}
}

// see takes note of p's state: a pod not seen before is numbered, and a
// container that has run and is not streamed yet (its current run) is.
func (f *podFollower) see(p corev1.Pod, initial bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fp := f.pods[p.UID]
	if fp == nil {
		s := p.Labels[LabelService]
		f.last[s]++
		fp = &followedPod{name: fmt.Sprintf("%s-%d", s, f.last[s]), shown: f.o.Index == 0 || f.o.Index == f.last[s]}
		f.pods[p.UID] = fp
		if fp.shown {
			f.lc.Register(fp.name)
		}
	}
	fp.pod = p
	f.stream(fp, initial)
}

// stream begins streaming fp's current run when it has one not streamed
// yet; f.mu is held.
func (f *podFollower) stream(fp *followedPod, initial bool) {
	ran, restarts := containerRan(fp.pod)
	if !fp.shown || fp.streaming || !ran || (fp.streams > 0 && restarts <= fp.restarts) {
		return
	}
	fp.streaming, fp.restarts = true, restarts
	fp.streams++
	o := f.o.LogOptions
	if !initial {
		o.Tail = -1
	}
	p := fp.pod
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		rc, err := f.c.openLog(f.ctx, f.ns, p, o)
		if err == nil {
			// a stream cut short ends this run's lines, not the follow
			scanLog(f.ctx, p.Name, rc, o, func(l string) { f.lc.Log(fp.name, l) })
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		fp.streaming = false
		switch {
		case f.ctx.Err() != nil:
		case apierrors.IsNotFound(err) || apierrors.IsBadRequest(err):
			// the pod went, or its container is not there after all
			// (deleted, about to restart): the next event of it says
			// what there is to stream
			fp.streams--
		case err != nil:
			f.fail(f.c.fail("reading the log of pod "+p.Name, err))
		default:
			// the run ended: its next one may have begun already
			f.stream(fp, false)
		}
	}()
}

// end is what followPods returns: its own error, else the first stream's
// that failed, else why ctx ended.
func (f *podFollower) end(ctx context.Context, err error) error {
	f.fail(err)
	f.wg.Wait()
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	if cause := context.Cause(f.ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return ctx.Err()
}

// containerRan says whether p's first container has run (runs or ran: it
// has a log), and how often it has restarted.
func containerRan(p corev1.Pod) (bool, int32) {
	if len(p.Spec.Containers) == 0 {
		return false, 0
	}
	for _, st := range p.Status.ContainerStatuses {
		if st.Name == p.Spec.Containers[0].Name {
			return st.State.Running != nil || st.State.Terminated != nil, st.RestartCount
		}
	}
	return false, 0
}
