package container

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/attach"
	"github.com/berth-dev/berth/jsonlog"
	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/volumes"
)

// Exit codes for a container that could not run, as Docker reports them.
const (
	ExitNotFound      = 127 // the command does not exist in the image
	ExitNotExecutable = 126 // it exists but cannot be executed
	ExitStartFailed   = 125 // anything else that kept it from starting
)

// RunDir is where the runtime keeps libcontainer's state for a berth state
// root: tmpfs under /run, one directory per root so that roots do not mix.
func RunDir(root string) string {
	sum := sha256.Sum256([]byte(root))
	return filepath.Join("/run/berth", hex.EncodeToString(sum[:6]), "runc")
}

// MonitorIO are the pipes the starting command shares with the monitor:
// Status gets "ok <pid>", "error <code> <message>" and "exit <code>" lines;
// Stdout and Stderr, when attached, get a copy of the container's output.
type MonitorIO struct {
	Status         io.WriteCloser
	Stdout, Stderr io.WriteCloser
	// Stdin, when attached with -i, is the caller's input.
	Stdin *os.File
	// Size is the caller's terminal size for a container with a TTY.
	Size *unix.Winsize
}

// Monitor runs the container id until it exits for good: it starts the
// process, drains its output into the log (and the attached pipes),
// records its exit, applies the restart policy with Docker's back-off (100
// ms doubling, reset after 10 s of running), and cleans up. It is the body
// of the hidden "berth __monitor" command and returns when the container
// has stopped and will not restart.
func Monitor(ctx context.Context, root, id string, mio MonitorIO) error {
	s, err := OpenStore(filepath.Join(root, "containers"))
	if err != nil {
		return err
	}
	e, err := s.Get(id)
	if err != nil {
		return err
	}
	rt, err := runtime.New(RunDir(root))
	if err != nil {
		return err
	}
	lw, err := jsonlog.Open(s.LogPath(id), e.Record.Host.LogMaxSize, e.Record.Host.LogMaxFile)
	if err != nil {
		return err
	}
	defer lw.Close()
	// the attach point lives as long as the monitor; without it (another
	// monitor holds the name) attach is refused, the container still runs
	h, _ := attach.Listen(root, id)
	// stop and restart wake the back-off with SIGUSR1
	wake := make(chan os.Signal, 1)
	signal.Notify(wake, syscall.SIGUSR1)
	status := mio.Status
	report := func(line string) {
		if status != nil {
			fmt.Fprintln(status, line)
		}
	}
	delay := 100 * time.Millisecond
	for {
		started := time.Now()
		if cur, err := s.Get(id); err == nil {
			e.Record = cur.Record // network connect and disconnect change it
		}
		code, err := runOnce(ctx, root, rt, s, e.Record, lw, mio, h, report)
		if err != nil {
			report(fmt.Sprintf("error %d %s", code, oneLine(err.Error())))
			if status != nil {
				status.Close()
			}
			return err
		}
		st, _ := s.Update(ctx, id, func(st *State) error { return nil })
		if !shouldRestart(e.Record.Host.RestartPolicy, st, code) {
			break
		}
		if time.Since(started) >= 10*time.Second {
			delay = 100 * time.Millisecond
		}
		s.Update(ctx, id, func(st *State) error { return st.To(Restarting) })
		select {
		case <-time.After(delay):
		case <-wake:
		case <-ctx.Done():
		}
		delay *= 2
		if st, _ := s.Update(ctx, id, func(*State) error { return nil }); st.StopRequested {
			s.Update(ctx, id, func(st *State) error { return st.To(Exited) })
			break
		}
		s.Update(ctx, id, func(st *State) error { st.RestartCount++; return nil })
		mio.Stdout, mio.Stderr, mio.Stdin = nil, nil, nil // only the first run is attached
	}
	st, _ := s.Update(ctx, id, func(*State) error { return nil })
	if h != nil {
		h.Close(st.ExitCode)
	}
	if e.Record.Host.AutoRemove {
		// removed before the exit is reported: the caller of run --rm
		// returns with nothing of the container left, as Docker's does,
		// anonymous volumes included
		if err = s.Delete(id); err == nil {
			if m, merr := Open(root, nil); merr == nil {
				m.removeAnonymous(ctx, e.Record.Volumes)
			}
		}
	}
	report(fmt.Sprintf("exit %d", st.ExitCode))
	if status != nil {
		status.Close()
	}
	return err
}

func shouldRestart(p RestartPolicy, st State, code int) bool {
	if st.StopRequested {
		return false
	}
	switch p.Name {
	case "always", "unless-stopped":
		return true
	case "on-failure":
		return code != 0 && (p.MaximumRetryCount == 0 || st.RestartCount < p.MaximumRetryCount)
	}
	return false
}

// runOnce creates, starts and waits for the container once. A start failure
// returns the exit code Docker gives it and leaves the container exited with
// the error recorded.
func runOnce(ctx context.Context, root string, rt *runtime.Runtime, s *Store, rec Record, lw *jsonlog.Writer, mio MonitorIO, h *attach.Hub, report func(string)) (int, error) {
	fail := func(code int, err error) (int, error) {
		s.Update(ctx, rec.ID, func(st *State) error {
			st.Status, st.ExitCode, st.Error, st.Pid = Exited, code, err.Error(), 0
			st.FinishedAt = time.Now().UTC()
			return nil
		})
		return code, err
	}
	// networks first: the container's first instruction has them
	path, eps, err := joinNetworks(ctx, root, rec)
	if err != nil {
		return fail(ExitStartFailed, err)
	}
	// held are the endpoints to leave: those joined here and those
	// network connect added meanwhile, taken from the state as they are
	// cleared from it; leaving one already left (disconnected) does
	// nothing. A run that ends leaves at its exit, one that fails to start
	// on return.
	held := map[string]Endpoint{}
	maps.Copy(held, eps)
	take := func(st *State) {
		maps.Copy(held, st.Networks)
		st.Networks, st.Ports = nil, nil
	}
	left := false
	defer func() {
		if !left {
			s.Update(context.WithoutCancel(ctx), rec.ID, func(st *State) error { take(st); return nil })
			leaveNetworks(ctx, root, rec.ID, held)
		}
	}()
	rec.Spec.NetNS = path
	if rec.Host.NetworkContainer != "" {
		if rec.Spec.NetNS, err = borrowNetwork(s, root, rec); err != nil {
			return fail(ExitStartFailed, err)
		}
	}
	bindings, unpublish, err := publish(ctx, root, rec, eps)
	if err != nil {
		return fail(ExitStartFailed, err)
	}
	defer unpublish()
	if userDefined(rec.Host.Networks) {
		stopDNS, err := serveDNS(ctx, root, rec, path)
		if err != nil {
			return fail(ExitStartFailed, err)
		}
		defer stopDNS()
	}
	if len(eps) > 0 {
		// the container's name resolves to its first network's address,
		// and its nameservers must be reachable from the network, as in
		// Docker; written before the runtime bind-mounts the files
		first := eps[rec.Host.Networks[0]]
		mode := bridgeDNS
		if userDefined(rec.Host.Networks) {
			mode = embeddedDNS
		}
		hosts := hostsFile(rec.Config.fqdn(), first.Address.Addr().String(), append(linkHosts(s, rec), rec.Host.ExtraHosts...), first.Gateway)
		if err := os.WriteFile(filepath.Join(s.Dir(rec.ID), "hosts"), []byte(hosts), 0o644); err != nil {
			return fail(ExitStartFailed, err)
		}
		if err := os.WriteFile(filepath.Join(s.Dir(rec.ID), "resolv.conf"), []byte(resolvConf(hostResolvConf(), rec.Host, mode)), 0o644); err != nil {
			return fail(ExitStartFailed, err)
		}
	}
	if err := readyVolumes(root, rec); err != nil {
		return fail(ExitStartFailed, err)
	}
	c, err := rt.Create(ctx, rec.Spec, s.Dir(rec.ID))
	if err != nil {
		return fail(ExitStartFailed, err)
	}
	defer c.Delete()
	terminal := rec.Spec.Process.Terminal
	var outR, outW, errR, errW *os.File
	if !terminal {
		if outR, outW, err = os.Pipe(); err != nil {
			return fail(ExitStartFailed, err)
		}
		if errR, errW, err = os.Pipe(); err != nil {
			return fail(ExitStartFailed, err)
		}
	}
	stdio := runtime.IO{Stdout: outW, Stderr: errW}
	var inW *os.File
	if rec.Config.OpenStdin && !terminal {
		// -i: the monitor holds the container's input, so that it stays
		// open (and empty) with nobody attached, as in Docker, and any
		// attach can write to it
		var inR *os.File
		if inR, inW, err = os.Pipe(); err != nil {
			return fail(ExitStartFailed, err)
		}
		defer inR.Close()
		defer inW.Close()
		stdio.Stdin = inR
	}
	if mio.Size != nil {
		stdio.Rows, stdio.Cols = mio.Size.Row, mio.Size.Col
	}
	p, master, err := c.Start(stdio)
	if !terminal {
		outW.Close()
		errW.Close()
	}
	if err != nil {
		if !terminal {
			outR.Close()
			errR.Close()
		}
		return fail(startExitCode(err), err)
	}
	pid, _ := p.Pid()
	if _, err := s.Update(ctx, rec.ID, func(st *State) error {
		if err := st.To(Running); err != nil {
			return err
		}
		st.Pid, st.MonitorPid, st.StartedAt, st.Error = pid, os.Getpid(), time.Now().UTC(), ""
		st.Networks, st.Ports = eps, bindings
		return nil
	}); err != nil {
		c.Signal(syscall.SIGKILL)
	}
	report(fmt.Sprintf("ok %d", pid))
	type stream struct {
		r    *os.File
		tee  io.WriteCloser
		name string
	}
	streams := []stream{{outR, mio.Stdout, "stdout"}, {errR, mio.Stderr, "stderr"}}
	var input io.Writer
	if inW != nil {
		input = inW
	}
	if terminal {
		// a terminal has one stream; Docker logs it as stdout
		streams = []stream{{master, mio.Stdout, "stdout"}}
		if mio.Stderr != nil {
			mio.Stderr.Close()
		}
		input = master
	}
	if h != nil && rec.Config.OpenStdin {
		h.SetInput(input)
		defer h.SetInput(nil)
	}
	if mio.Stdin != nil && input != nil {
		go func() {
			io.Copy(input, mio.Stdin)
			// the caller that started it ended its input: so does the
			// container (Docker's StdinOnce for run -i)
			if inW != nil {
				inW.Close()
			}
		}()
	}
	var wg sync.WaitGroup
	for _, st := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer st.r.Close()
			var r io.Reader = st.r
			if st.tee != nil {
				r = io.TeeReader(r, &lenient{w: st.tee})
				defer st.tee.Close()
			}
			if h != nil {
				frame := attach.Stdout
				if st.name == "stderr" {
					frame = attach.Stderr
				}
				r = io.TeeReader(r, h.Stream(frame))
			}
			lw.Drain(r, st.name) // a PTY master ends with EIO once the process is gone
		}()
	}
	stopHealth := func() {}
	if rec.Health != nil {
		hctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { watchHealth(hctx, rt, s, rec, *rec.Health); close(done) }()
		stopHealth = func() { cancel(); <-done }
	}
	code, _ := p.Wait()
	stopHealth()
	wg.Wait()
	oom := oomKilled(rec.ID)
	s.Update(ctx, rec.ID, func(st *State) error {
		st.To(Exited)
		st.ExitCode, st.Pid, st.OOMKilled = code, 0, oom
		st.FinishedAt = time.Now().UTC()
		take(st)
		return nil
	})
	// off the networks before the slower clean-up on return (unmounting
	// the root syncs its upper layer): whoever waits for the exit to
	// remove the networks (down) then finds them free
	leaveNetworks(ctx, root, rec.ID, held)
	left = true
	return code, nil
}

// lenient writes to an attached reader until it goes away; the container's
// output then still reaches the log.
type lenient struct {
	w      io.Writer
	failed bool
}

func (l *lenient) Write(p []byte) (int, error) {
	if !l.failed {
		if _, err := l.w.Write(p); err != nil {
			l.failed = true
		}
	}
	return len(p), nil
}

// startExitCode maps a start failure to Docker's exit codes.
func startExitCode(err error) int {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"):
		return ExitNotFound
	case strings.Contains(msg, "permission denied"), strings.Contains(msg, "exec format error"):
		return ExitNotExecutable
	}
	return ExitStartFailed
}

// oomKilled reads whether the kernel's OOM killer struck in the container's
// cgroup (v2: memory.events, v1: memory.oom_control).
func oomKilled(id string) bool { return oomKilledIn("/sys/fs/cgroup", id) }

// oomKilledIn reads the OOM-kill count of the container's cgroup under
// the cgroup mount root: memory.events on cgroup v2, memory.oom_control in
// v1's memory hierarchy; both say "oom_kill N".
func oomKilledIn(root, id string) bool {
	for _, p := range []string{filepath.Join(root, "berth", id, "memory.events"), filepath.Join(root, "memory", "berth", id, "memory.oom_control")} {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == "oom_kill" && f[1] != "0" {
				return true
			}
		}
	}
	return false
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// readyVolumes makes the host mounts the container's volumes need (a
// tmpfs volume's, gone after a reboot) before it starts.
func readyVolumes(root string, rec Record) error {
	if len(rec.Volumes) == 0 {
		return nil
	}
	vols, err := volumes.Open(filepath.Join(root, "volumes"))
	if err != nil {
		return err
	}
	vols.Mount, vols.Unmount = runtime.MountHost, runtime.Unmount
	for _, u := range rec.Volumes {
		v, err := vols.Get(u.Name)
		if err != nil {
			return err
		}
		if err := vols.Ready(v); err != nil {
			return err
		}
	}
	return nil
}
