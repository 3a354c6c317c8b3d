package kube

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream"

	"golang.org/x/term"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/proc"
	"github.com/berth-dev/berth/errclass"
)

// servicePods are the pods of project's services (all when none), by
// service, each service's in the order of their creation: the first is
// replica 1, as --index counts.
func (c *Cluster) servicePods(ctx context.Context, project string, services []string) (map[string][]corev1.Pod, []string, error) {
	pods, err := c.pods(ctx, c.Namespace(project), selector(project, services...))
	if err != nil {
		return nil, nil, err
	}
	by := map[string][]corev1.Pod{}
	for _, p := range pods {
		s := p.Labels[LabelService]
		by[s] = append(by[s], p)
	}
	for _, l := range by {
		slices.SortFunc(l, madeFirst)
	}
	return by, sortedKeys(by), nil
}

// madeFirst orders a service's pods as --index and service-N count them:
// in the order they were made.
func madeFirst(a, b corev1.Pod) int {
	return cmp.Or(a.CreationTimestamp.Compare(b.CreationTimestamp.Time), cmp.Compare(a.Name, b.Name))
}

// statuses are the statuses of p's init containers, then of its
// containers.
func statuses(p corev1.Pod) []corev1.ContainerStatus {
	return append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...)
}

// PodRow is one pod of a project, as ps lists it.
type PodRow struct {
	Name, Image, Service, Created, Status, Ports string
	Restarts                                     int32
}

// Ps lists the project's pods: service, state, restarts, container ports.
func (c *Cluster) Ps(ctx context.Context, project string, services []string) ([]PodRow, error) {
	by, names, err := c.servicePods(ctx, project, services)
	if err != nil {
		return nil, err
	}
	var rows []PodRow
	for _, s := range names {
		for _, p := range by[s] {
			r := PodRow{Name: p.Name, Service: s, Status: podStatus(p),
				Created: time.Since(p.CreationTimestamp.Time).Round(time.Second).String() + " ago"}
			var images, ports []string
			for _, ctr := range p.Spec.Containers {
				images = append(images, ctr.Image)
				for _, cp := range ctr.Ports {
					ports = append(ports, fmt.Sprintf("%d/%s", cp.ContainerPort, strings.ToLower(string(cp.Protocol))))
				}
			}
			for _, st := range p.Status.ContainerStatuses {
				r.Restarts += st.RestartCount
			}
			r.Image, r.Ports = strings.Join(images, ","), strings.Join(ports, ", ")
			rows = append(rows, r)
		}
	}
	return rows, nil
}

// podStatus is a pod's phase, with why it waits or that it is not ready.
func podStatus(p corev1.Pod) string {
	if p.DeletionTimestamp != nil {
		return "Terminating"
	}
	for _, st := range statuses(p) {
		if w := st.State.Waiting; w != nil && w.Reason != "" {
			return string(p.Status.Phase) + " (" + w.Reason + ")"
		}
	}
	if p.Status.Phase == corev1.PodRunning {
		for _, cnd := range p.Status.Conditions {
			if cnd.Type == corev1.PodReady && cnd.Status != corev1.ConditionTrue {
				return "Running (not ready)"
			}
		}
	}
	return string(p.Status.Phase)
}

// Logs writes the logs of every pod of the services (each replica
// prefixed service-N, as local logs are). With o.Follow it follows them,
// and the pods that appear later (followPods), until ctx ends.
func (c *Cluster) Logs(ctx context.Context, project string, services []string, o api.LogsOptions, lc api.LogConsumer) error {
	if o.Follow {
		return c.followPods(ctx, project, services, o, lc)
	}
	by, names, err := c.servicePods(ctx, project, services)
	if err != nil {
		return err
	}
	type stream struct {
		name string
		pod  corev1.Pod
	}
	var streams []stream
	for _, s := range names {
		for i, p := range by[s] {
			if o.Index != 0 && o.Index != i+1 {
				continue
			}
			n := fmt.Sprintf("%s-%d", s, i+1)
			lc.Register(n)
			streams = append(streams, stream{n, p})
		}
	}
	ns := c.Namespace(project)
	var wg sync.WaitGroup
	errs := make([]error, len(streams))
	for i, st := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.podLog(ctx, ns, st.pod, o.LogOptions, func(line string) { lc.Log(st.name, line) })
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (c *Cluster) podLog(ctx context.Context, ns string, p corev1.Pod, o proc.LogOptions, line func(string)) error {
	rc, err := c.openLog(ctx, ns, p, o)
	if err != nil {
		if apierrors.IsBadRequest(err) && p.Status.Phase == corev1.PodPending {
			return nil // not started: nothing logged yet
		}
		return c.fail("reading the log of pod "+p.Name, err)
	}
	return scanLog(ctx, p.Name, rc, o, line)
}

// openLog opens the log of p's (first) container, the API server's error
// as it is.
func (c *Cluster) openLog(ctx context.Context, ns string, p corev1.Pod, o proc.LogOptions) (io.ReadCloser, error) {
	req := c.core.Get().Namespace(ns).Resource("pods").Name(p.Name).SubResource("log")
	if len(p.Spec.Containers) > 0 {
		req = req.Param("container", p.Spec.Containers[0].Name)
	}
	if o.Follow {
		req = req.Param("follow", "true")
	}
	if o.Timestamps {
		req = req.Param("timestamps", "true")
	}
	if o.Tail >= 0 {
		req = req.Param("tailLines", strconv.Itoa(o.Tail))
	}
	if !o.Since.IsZero() {
		req = req.Param("sinceTime", o.Since.UTC().Format(time.RFC3339))
	}
	return req.Stream(ctx)
}

// scanLog passes each line of rc, the log of pod, to line, and closes it.
func scanLog(ctx context.Context, pod string, rc io.ReadCloser, o proc.LogOptions, line func(string)) error {
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if !o.Until.IsZero() && o.Timestamps {
			if ts, _, ok := strings.Cut(l, " "); ok {
				if t, err := time.Parse(time.RFC3339Nano, ts); err == nil && t.After(o.Until) {
					continue
				}
			}
		}
		line(l)
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("reading the log of pod %s: %w", pod, err)
	}
	return nil
}

// lastLines are the last n lines a container (its previous run's, with
// previous) logged, on one line, for an error.
func (c *Cluster) lastLines(ctx context.Context, ns, pod, container string, n int, previous bool) string {
	b, err := c.core.Get().Namespace(ns).Resource("pods").Name(pod).SubResource("log").
		Param("container", container).Param("previous", strconv.FormatBool(previous)).Param("tailLines", strconv.Itoa(n)).DoRaw(ctx)
	if err != nil {
		return ""
	}
	return strings.Join(strings.Fields(strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", " | ")), " ")
}

// pod is a service's running pod: replica index (1-based; 0 is the
// first).
func (c *Cluster) pod(ctx context.Context, project, service string, index int) (corev1.Pod, error) {
	by, _, err := c.servicePods(ctx, project, []string{service})
	if err != nil {
		return corev1.Pod{}, err
	}
	var running []corev1.Pod
	for _, p := range by[service] {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			running = append(running, p)
		}
	}
	if index == 0 {
		index = 1
	}
	if index > len(running) {
		if len(running) == 0 {
			return corev1.Pod{}, errclass.New(errclass.ErrNotFound, "service %q is not running: it has no running pod in namespace %q", service, c.Namespace(project))
		}
		return corev1.Pod{}, errclass.New(errclass.ErrNotFound, "service %q has no running pod of index %d: it has %d", service, index, len(running))
	}
	return running[index-1], nil
}

// Exec runs a command in a pod of a service, over the websocket
// protocol, or SPDY when the API server does not upgrade to it (as
// kubectl since 1.31), and returns its exit code. A pod's exec takes a
// command alone: -e and -w are given to it by wrapping the command
// (execCommand), -u, --privileged and -d are refused.
func (c *Cluster) Exec(ctx context.Context, project, service string, index int, o proc.ExecOptions) (int, error) {
	for _, r := range []struct {
		set       bool
		flag, why string
	}{
		{o.User != "", "--user", "a pod's exec runs as its container's user, and Kubernetes' exec takes no other"},
		{o.Privileged, "--privileged", "a pod's exec has its container's privileges, and Kubernetes' exec takes no others"},
		{o.Detach, "--detach", "a pod's exec ends with its connection, and Kubernetes' exec cannot leave a process running"},
	} {
		if r.set {
			return 0, fmt.Errorf("berth exec %s is not supported on a Kubernetes context: %s: %w", r.flag, r.why, errors.ErrUnsupported)
		}
	}
	cmd, err := execCommand(o, os.LookupEnv)
	if err != nil {
		return 0, err
	}
	p, err := c.pod(ctx, project, service, index)
	if err != nil {
		return 0, err
	}
	eo := &corev1.PodExecOptions{Command: cmd, Stdin: o.Stdin != nil, Stdout: true, Stderr: !o.TTY, TTY: o.TTY}
	if len(p.Spec.Containers) > 0 {
		eo.Container = p.Spec.Containers[0].Name
	}
	u := c.core.Post().Namespace(p.Namespace).Resource("pods").Name(p.Name).SubResource("exec").
		VersionedParams(eo, runtime.NewParameterCodec(c.scheme)).URL()
	ws, err := remotecommand.NewWebSocketExecutor(c.cfg, "GET", u.String())
	if err != nil {
		return 0, err
	}
	spdy, err := remotecommand.NewSPDYExecutor(c.cfg, "POST", u)
	if err != nil {
		return 0, err
	}
	ex, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return 0, err
	}
	so := remotecommand.StreamOptions{Stdin: o.Stdin, Stdout: o.Stdout, Tty: o.TTY}
	if !o.TTY {
		so.Stderr = o.Stderr
	}
	if o.TTY && o.Terminal != nil {
		fd := int(o.Terminal.Fd())
		if st, err := term.MakeRaw(fd); err == nil {
			defer term.Restore(fd, st)
		}
		if w, h, err := term.GetSize(fd); err == nil {
			so.TerminalSizeQueue = &oneSize{size: &remotecommand.TerminalSize{Width: uint16(w), Height: uint16(h)}}
		}
	}
	err = ex.StreamWithContext(ctx, so)
	var code utilexec.CodeExitError
	if errors.As(err, &code) {
		return code.Code, nil
	}
	if err != nil && len(cmd) > len(o.Cmd) && strings.Contains(err.Error(), fmt.Sprintf("%q: executable file not found", cmd[0])) {
		flag := map[string]string{"env": "--env", "sh": "--workdir"}[cmd[0]]
		return 0, errclass.New(errclass.ErrFailed, "berth exec %s runs the command under %s on a Kubernetes context, and the image of service %q has no %s",
			flag, cmd[0], service, cmd[0])
	}
	if err != nil {
		code := 0
		if strings.Contains(err.Error(), "executable file not found") {
			// the runtime could not find the command: Docker's 127, as
			// a local exec gives
			code = execNotFound
		}
		return code, c.fail(fmt.Sprintf("exec in pod %s of service %q", p.Name, service), err)
	}
	return 0, nil
}

// execNotFound is the exit code of an exec whose command is not in the
// image, Docker's (container.ExitNotFound, which kube does not link).
const execNotFound = 127

// chdir is the script that runs exec -w's command in its directory: the
// directory and the command are its arguments, never part of it, so
// nothing in them is read by the shell. exec keeps the command the
// process the stream is attached to (its exit code, its signals, its
// terminal); a directory that cannot be entered exits 126, as a local
// exec's.
const chdir = `cd "$1" || exit 126; shift; exec "$@"`

// execCommand is what a pod runs for o: o.Cmd, after `env K=V...` for -e
// (the image needs env) and in `sh -c chdir sh DIR` for -w (the image needs
// sh), since a pod's exec takes no environment and no directory. -e KEY
// without a value takes berth's own KEY, as docker's exec does, and is
// left out when berth has none.
func execCommand(o proc.ExecOptions, lookup func(string) (string, bool)) ([]string, error) {
	cmd := o.Cmd
	var vars []string
	for _, kv := range o.Env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok {
			v, set := lookup(kv)
			if !set {
				continue
			}
			kv = k + "=" + v
		}
		if k == "" {
			return nil, errclass.New(errclass.ErrInvalid, "invalid environment variable %q: it has no name", kv)
		}
		vars = append(vars, kv)
	}
	if len(vars) > 0 {
		if strings.Contains(cmd[0], "=") {
			// env would take it for one more variable
			return nil, errclass.New(errclass.ErrInvalid, "exec --env: on a Kubernetes context the command is run by env, which would take %q for a variable", cmd[0])
		}
		cmd = append(append([]string{"env"}, vars...), cmd...)
	}
	if o.WorkDir != "" {
		if !path.IsAbs(o.WorkDir) {
			return nil, errclass.New(errclass.ErrInvalid, "the working directory %q is invalid: it needs to be an absolute path", o.WorkDir)
		}
		cmd = append([]string{"sh", "-c", chdir, "sh", o.WorkDir}, cmd...)
	}
	return cmd, nil
}

// oneSize gives the terminal's size once.
type oneSize struct{ size *remotecommand.TerminalSize }

func (s *oneSize) Next() *remotecommand.TerminalSize {
	z := s.size
	s.size = nil
	if z == nil {
		select {} // no more sizes: the stream ends the executor's reader
	}
	return z
}

// Down deletes what berth made of the project, workloads first, and
// waits until its pods are gone; the claims, and the namespace when it
// is berth's, only with o.Volumes.
func (c *Cluster) Down(ctx context.Context, project string, o api.DownOptions) error {
	ns := c.Namespace(project)
	have, err := c.list(ctx, project, ns, o.Services...)
	if err != nil {
		return err
	}
	// workloads first, so that nothing runs without its configuration
	rank := func(kind string) int {
		switch {
		case isWorkload(kind):
			return 0
		case kind == "Service", kind == "NetworkPolicy":
			return 1
		}
		return 2
	}
	keys := sortedKeys(have)
	slices.SortStableFunc(keys, func(a, b string) int {
		return cmp.Compare(rank(have[a].GetKind()), rank(have[b].GetKind()))
	})
	for _, k := range keys {
		u := have[k]
		if u.GetKind() == "PersistentVolumeClaim" && !o.Volumes {
			continue
		}
		if err := c.delete(ctx, u, ns); err != nil {
			return err
		}
		c.report(u.GetKind(), u.GetName(), "Removed")
	}
	if err := c.podsGone(ctx, ns, selector(project, o.Services...)); err != nil {
		return err
	}
	if !o.Volumes || len(o.Services) > 0 || !c.ownNamespace() {
		return nil
	}
	nsr, err := c.resource(ctx, namespaceKind, "")
	if err != nil {
		return err
	}
	cur, err := nsr.Get(ctx, ns, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return c.fail(fmt.Sprintf("reading namespace %q", ns), err)
	}
	if cur.GetLabels()[LabelManagedBy] != "berth" || cur.GetLabels()[LabelProject] != project {
		return nil // not berth's to delete
	}
	if err := c.delete(ctx, cur, ""); err != nil {
		return err
	}
	// its deletion ends once everything in it is gone
	if err := c.gone(ctx, nsr, ns); err != nil {
		return c.fail(fmt.Sprintf("waiting for namespace %q to be deleted", ns), err)
	}
	c.report("Namespace", ns, "Removed")
	return nil
}

// podsGone waits until no pod of sel is left.
func (c *Cluster) podsGone(ctx context.Context, ns, sel string) error {
	return wait.PollUntilContextCancel(ctx, pollEvery, true, func(ctx context.Context) (bool, error) {
		pods, err := c.pods(ctx, ns, sel)
		return len(pods) == 0, err
	})
}

// gone waits until r's object name is gone.
func (c *Cluster) gone(ctx context.Context, r dynamic.ResourceInterface, name string) error {
	return wait.PollUntilContextCancel(ctx, pollEvery, true, func(ctx context.Context) (bool, error) {
		_, err := r.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}
