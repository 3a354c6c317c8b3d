package monitor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/attach"
	"github.com/berth-dev/berth/jsonlog"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/shim"
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

// pipes are the pipes the starting command shares with the monitor:
// Status gets the monitor's Report messages (report.go);
// Stdout and Stderr, when attached, get a copy of the container's output.
type pipes struct {
	Status         io.WriteCloser
	Stdout, Stderr io.WriteCloser
	// Stdin, when attached with -i, is the caller's input.
	Stdin *os.File
	// Size is the caller's terminal size for a container with a TTY.
	Size *unix.Winsize
}

// start runs the container id until it exits for good: it starts the
// process, drains its output into the log (and the attached pipes),
// records its exit, applies the restart policy with Docker's back-off (100
// ms doubling, reset after 10 s of running), and cleans up. It is the body
// of the hidden "__monitor" command and returns when the container
// has stopped and will not restart.
//
// Once the container runs, the monitor waits for it as berth-shim (package
// shim) when that program is there, beside the monitor's: it execs it, and
// it execs the monitor again at the exit, which goes on in resume.
func start(ctx context.Context, root, id string, mio pipes, remove Remove) error {
	return monitor(ctx, root, id, mio, remove, nil, nil)
}

// resume goes on from the exit that the waiting process saw: the monitor
// exec'd again with its handoff.
func resume(ctx context.Context, root string, h *shim.Handoff, remove Remove) error {
	var status io.WriteCloser
	if h.Status != shim.None {
		status = os.NewFile(uintptr(h.Status), "status")
	}
	return monitor(ctx, root, h.ID, pipes{Status: status}, remove, h, nil)
}

// Remove removes a container started with --rm once it has stopped for
// good, its anonymous volumes with it, as the client's removal does
// (container.AutoRemove): removal is the client's, with its intents and
// its checks of which volumes are in use; the monitor only asks for it.
type Remove func(ctx context.Context, root string, rec record.Record) error

// carried is what the monitor carries across the waiting process.
type carried struct {
	Delay   time.Duration
	Started time.Time
}

// monitor is start; with resumed, resume; with recovered, the recovery
// monitor (see Recover), which goes on from that exit code.
func monitor(ctx context.Context, root, id string, mio pipes, remove Remove, resumed *shim.Handoff, recovered *int) error {
	s, err := record.OpenStore(filepath.Join(root, "containers"))
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
	// the log exists from the start, for whoever follows it (logs -f, an
	// attached up) to watch before the first line
	lw, err := jsonlog.Open(s.LogPath(id), e.Record.Host.LogMaxSize, e.Record.Host.LogMaxFile)
	if err != nil {
		return err
	}
	lw.Close()
	// the attach point lives as long as the monitor. Whoever waits for the
	// container serves it (shim.Wait), never a monitor about to exec, which
	// would drop the connections it had taken; meanwhile clients wait in
	// its backlog. Without it (another monitor holds the name) attach is
	// refused; the container still runs.
	var ln net.Listener
	if resumed != nil && resumed.Hub != shim.None {
		ln, _ = shim.Listener(resumed.Hub)
	} else if resumed == nil {
		ln, _ = attach.Open(root, id)
	}
	// stop and restart wake the back-off with SIGUSR1
	wake := make(chan os.Signal, 1)
	signal.Notify(wake, syscall.SIGUSR1)
	status := mio.Status
	report := func(st Report) {
		if status != nil {
			st.send(status)
		}
	}
	c := carried{Delay: 100 * time.Millisecond}
	var code int
	var runErr error // why the loop ended early: a state it could not write
	for {
		if resumed != nil {
			json.Unmarshal(resumed.Monitor, &c)
			code, runErr = afterWait(ctx, root, rt, s, id, resumed)
			resumed = nil
			if runErr != nil {
				break
			}
		} else if recovered != nil {
			code, recovered = *recovered, nil
		} else {
			c.Started = time.Now()
			if cur, err := s.Get(id); err == nil {
				e.Record = cur.Record // network connect and disconnect change it
			}
			var started bool
			code, started, err = runOnce(ctx, root, rt, s, e.Record, mio, ln, report, c)
			if err != nil && !started {
				report(Report{Kind: ReportFailed, Code: code, Error: oneLine(err.Error())})
				if status != nil {
					status.Close()
				}
				return err
			}
			if runErr = err; runErr != nil {
				break
			}
		}
		restart, err := nextRun(ctx, s, id, e.Record.Host.RestartPolicy, code)
		if err != nil || !restart {
			runErr = err
			break
		}
		if time.Since(c.Started) >= 10*time.Second {
			c.Delay = 100 * time.Millisecond
		}
		select {
		case <-time.After(c.Delay):
		case <-wake:
		case <-ctx.Done():
		}
		c.Delay *= 2
		if restart, err = afterBackoff(ctx, s, id); err != nil || !restart {
			runErr = err
			break
		}
		mio.Stdout, mio.Stderr, mio.Stdin = nil, nil, nil // only the first run is attached
	}
	if st, err := s.Update(ctx, id, func(*record.State) error { return nil }); err == nil {
		code = st.ExitCode
	} else {
		runErr = errors.Join(runErr, err)
	}
	if ln != nil {
		ln.Close()
	}
	if e.Record.Host.AutoRemove {
		// removed before the exit is reported: the caller of run --rm
		// returns with nothing of the container left, as Docker's does,
		// anonymous volumes included
		runErr = errors.Join(runErr, remove(ctx, root, e.Record))
	}
	report(Report{Kind: ReportExited, Code: code})
	if status != nil {
		status.Close()
	}
	return runErr
}

// nextRun decides, under the container's lock, whether the run that
// ended with code is followed by another. The exit was recorded as
// restarting when the policy follows it with another run, but a stop
// since then has the last word: restarting then goes to exited. An exit
// recorded as exited that the policy restarts (the recovery monitor's:
// Reclaim records exited) goes to restarting, for the back-off.
func nextRun(ctx context.Context, s *record.Store, id string, policy record.RestartPolicy, code int) (restart bool, err error) {
	_, err = s.Update(ctx, id, func(st *record.State) error {
		restart = shouldRestart(policy, *st, code)
		switch {
		case !restart && st.Status == record.Restarting:
			return st.To(record.Exited)
		case restart && st.Status != record.Restarting:
			return st.To(record.Restarting)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("applying the restart policy of container %s: %w", id, err)
	}
	return restart, nil
}

// afterBackoff decides, under the container's lock, whether the next run
// goes ahead after the back-off: not when a stop came meanwhile, which
// leaves the container exited; else it counts one restart more.
func afterBackoff(ctx context.Context, s *record.Store, id string) (restart bool, err error) {
	_, err = s.Update(ctx, id, func(st *record.State) error {
		if st.StopRequested {
			if st.Status == record.Restarting {
				return st.To(record.Exited)
			}
			return nil // exited or removed already by whoever stopped it
		}
		restart = true
		st.RestartCount++
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("restarting container %s: %w", id, err)
	}
	return restart, nil
}

func shouldRestart(p record.RestartPolicy, st record.State, code int) bool {
	return shim.Policy(p).Restarts(st.StopRequested, st.RestartCount, code)
}

// runOnce creates, starts and waits for the container once, and reports
// whether it started. A start failure returns the exit code Docker gives
// it and leaves the container exited with the error recorded (startFailed).
// After a start, an error is one of recording the exit or leaving the
// networks: the run is over all the same.
func runOnce(ctx context.Context, root string, rt *runtime.Runtime, s *record.Store, rec record.Record, mio pipes, ln net.Listener, report func(Report), carry carried) (code int, started bool, err error) {
	fail := func(code int, err error) (int, bool, error) {
		if _, uerr := s.Update(ctx, rec.ID, func(st *record.State) error { return startFailed(st, code, err) }); uerr != nil {
			err = errors.Join(err, fmt.Errorf("recording the failure: %w", uerr))
		}
		return code, false, err
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
	held := map[string]record.Endpoint{}
	maps.Copy(held, eps)
	take := func(st *record.State) {
		maps.Copy(held, st.Networks)
		st.Networks, st.Ports = nil, nil
	}
	left := false
	defer func() {
		if !left {
			if _, uerr := s.Update(context.WithoutCancel(ctx), rec.ID, func(st *record.State) error { take(st); return nil }); uerr != nil && !errors.Is(uerr, record.ErrNotFound) {
				err = errors.Join(err, fmt.Errorf("taking the endpoints off the state: %w", uerr))
			}
			LeaveNetworks(ctx, root, rec.ID, held)
		}
	}()
	if rec.Spec, err = joinNamespaces(s, rec); err != nil {
		return fail(ExitStartFailed, err)
	}
	rec.Spec.NetNS = path
	if rec.Host.NetworkContainer != "" {
		if rec.Spec.NetNS, err = borrowNetwork(s, root, rec); err != nil {
			return fail(ExitStartFailed, err)
		}
	}
	bindings, res, unpublish, err := publish(ctx, root, rec, eps)
	if err != nil {
		return fail(ExitStartFailed, err)
	}
	defer unpublish()
	var dnsSockets *resolverSockets
	if userDefined(rec.Host.Networks) {
		if dnsSockets, err = openDNS(root, rec, path); err != nil {
			return fail(ExitStartFailed, err)
		}
		defer dnsSockets.close()
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
		hosts := hostsFile(rec.Config.FQDN(), first.Address.Addr().String(), append(linkHosts(s, rec), rec.Host.ExtraHosts...), first.Gateway)
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
		return fail(startExitCode(err), startHint(err))
	}
	pid, _ := p.Pid()
	startedAt := time.Now().UTC()
	if _, err := s.Update(ctx, rec.ID, func(st *record.State) error {
		if err := st.To(record.Running); err != nil {
			return err
		}
		st.Pid, st.MonitorPid, st.StartedAt, st.Error = pid, os.Getpid(), startedAt, ""
		st.MonitorStart, _ = runtime.StartTime(os.Getpid())
		st.Keeper, st.KeeperStart = keeperOfMonitor()
		st.BootID, st.Rebooted = BootID(), false
		st.Networks, st.Ports = eps, bindings
		// in the same write as Running: a waiter for health that reads
		// the state after the start never meets the last run's verdict
		if rec.Health != nil {
			st.Health = &record.Health{Status: record.Starting}
		}
		return nil
	}); err != nil {
		// a run its state does not show is none: it ends here, as a
		// start that failed
		c.Signal(syscall.SIGKILL)
		p.Wait()
		for _, f := range []*os.File{outR, errR, master} {
			if f != nil {
				f.Close()
			}
		}
		return fail(ExitStartFailed, fmt.Errorf("recording the start: %w", err))
	}
	report(Report{Kind: ReportStarted, Pid: pid})
	// the container runs: from here the monitor only waits, as described
	// by a handoff, in the small program if it is there, else here
	w := &shim.Handoff{Root: root, ID: rec.ID, StateDir: s.Dir(rec.ID), Cgroup: rec.Spec.Cgroup(), Restart: shim.Policy(rec.Host.RestartPolicy), Pid: pid, Status: fdOf(mio.Status),
		Log:   shim.Log{Path: s.LogPath(rec.ID), MaxSize: rec.Host.LogMaxSize, MaxFiles: rec.Host.LogMaxFile},
		Input: shim.None, CallerInput: fdOf(mio.Stdin), Hub: shim.None, HubInput: rec.Config.OpenStdin,
	}
	if terminal {
		// a terminal has one stream; Docker logs it as stdout
		w.Streams = []shim.Stream{{FD: fdOf(master), Name: "stdout", Tee: fdOf(mio.Stdout)}}
		w.Input = fdOf(master)
		master.Close()
	} else {
		w.Streams = []shim.Stream{{FD: fdOf(outR), Name: "stdout", Tee: fdOf(mio.Stdout)}, {FD: fdOf(errR), Name: "stderr", Tee: fdOf(mio.Stderr)}}
		outR.Close()
		errR.Close()
		if inW != nil {
			// the caller that started it ending its input ends the
			// container's (Docker's StdinOnce for run -i)
			w.Input, w.CloseInput = fdOf(inW), true
		}
	}
	for _, f := range []io.Closer{mio.Stdout, mio.Stderr, mio.Stdin} {
		if f != nil {
			f.Close() // the handoff has its own copies
		}
	}
	if dnsSockets != nil {
		w.DNS = dnsSockets.handoff(root)
	}
	if res != nil {
		for _, fd := range res.Fds() {
			w.Held = append(w.Held, dup(fd))
		}
	}
	if ln != nil {
		w.Hub = socketFd(ln)
	}
	self, _ := os.Executable()
	if rec.Health != nil {
		w.Probe = &shim.Probe{Argv: []string{self, "--root", root, "__probe", rec.ID}, First: startedAt.Add(healthWait(*rec.Health, startedAt, startedAt))}
	}
	// a command done within moments (run --rm, a one-shot job) is
	// waited for here: the exec there and back would cost it more than
	// it saves; its output waits in the pipes meanwhile
	if shimBin := shimBinary(self); shimBin != "" && WaitProcess(ctx, pid, handOffAfter) != nil {
		w.Resume = []string{self, "--root", root, "__monitor", rec.ID}
		w.Monitor, _ = json.Marshal(carry)
		shim.Exec([]string{shimBin, "--root", root, "__monitor", rec.ID}, w, w.Fds())
		// here only when the exec failed: wait here after all
	}
	w.StateDir = "" // recorded here, with the rest
	w.Keep()
	code, release := shim.Wait(ctx, w)
	for _, fd := range []int{w.Hub, w.Status} {
		if fd != shim.None {
			unix.Close(fd) // what Wait leaves open for a Resume
		}
	}
	eps, err = recordExit(ctx, s, rec.ID, rec.Spec.Cgroup(), code, w.Exited, rec.Host.RestartPolicy)
	maps.Copy(held, eps)
	// off the networks before the slower clean-up on return (unmounting
	// the root syncs its upper layer): whoever waits for the exit to
	// remove the networks (down) then finds them free
	LeaveNetworks(ctx, root, rec.ID, held)
	left = true
	release()
	return code, true, err
}

// startFailed records a start that failed with code: exited, with the
// error, as Docker records it; a container that had exited before this
// start stays so, with this failure's code and error.
func startFailed(st *record.State, code int, err error) error {
	if st.Status != record.Exited {
		if terr := st.To(record.Exited); terr != nil {
			return terr
		}
	}
	st.ExitCode, st.Error, st.Pid = code, err.Error(), 0
	st.FinishedAt = time.Now().UTC()
	return nil
}

// keeperOfMonitor is this monitor's keeper, its parent, and the keeper's
// start time: the keeper names itself in BERTH_KEEPER (a monitor started
// otherwise, by hand, has none).
func keeperOfMonitor() (int, uint64) {
	ppid := os.Getppid()
	if os.Getenv("BERTH_KEEPER") != strconv.Itoa(ppid) {
		return 0, 0
	}
	start, err := runtime.StartTime(ppid)
	if err != nil {
		return 0, 0
	}
	return ppid, start
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

// startHint is a start failure with Docker's hint where the cause is
// usually the user's mount: a file mounted on a directory (or the reverse)
// fails deep in the runtime with "not a directory".
func startHint(err error) error {
	// only a mount's: a working directory that is a file fails the same
	// way, and Docker gives it no hint
	if msg := err.Error(); strings.Contains(msg, "error mounting") && strings.Contains(msg, unix.ENOTDIR.Error()) {
		return fmt.Errorf("%w: Are you trying to mount a directory onto a file (or vice-versa)? Check if the specified host path exists and is the expected type", err)
	}
	return err
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// readyVolumes makes the host mounts the container's volumes need (a
// tmpfs volume's, gone after a reboot) before it starts.
func readyVolumes(root string, rec record.Record) error {
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
