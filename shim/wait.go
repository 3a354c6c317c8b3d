package shim

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/attach"
	"github.com/berth-dev/berth/dns"
	"github.com/berth-dev/berth/jsonlog"
)

// Wait serves the container described by h until its init exits, and
// returns the exit code (also set in h, with the time), the output
// drained, the exit recorded in the container's state when h has a
// StateDir (see RecordExit), the attach clients told. The DNS resolver and
// the Held descriptors go on until release: a monitor waiting in its own
// process releases them once it has left the networks; an exec closes
// them anyway. The attach point is served from a copy of Hub, until the
// exit: Hub and Status stay open, for Resume.
func Wait(ctx context.Context, h *Handoff) (code int, release func()) {
	var lw *jsonlog.Writer
	if w, err := jsonlog.Open(h.Log.Path, h.Log.MaxSize, h.Log.MaxFiles); err == nil {
		lw = w
		defer lw.Close()
	}
	var hub *attach.Hub
	if h.Hub != None {
		if d, err := unix.Dup(h.Hub); err == nil {
			if ln, err := Listener(d); err == nil {
				hub = attach.Serve(ln)
			}
		}
	}
	input := file(h.Input, "input")
	if hub != nil && h.HubInput && input != nil {
		hub.SetInput(input)
	}
	caller := file(h.CallerInput, "caller input")
	if caller != nil && input != nil {
		go func() {
			io.Copy(input, caller)
			if h.CloseInput {
				input.Close()
			}
		}()
	}
	var wg sync.WaitGroup
	for _, st := range h.Streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := file(st.FD, st.Name)
			defer r.Close()
			var in io.Reader = r
			if tee := file(st.Tee, st.Name+" copy"); tee != nil {
				in = io.TeeReader(in, &lenient{w: tee})
				defer tee.Close()
			}
			if hub != nil {
				s := attach.Stdout
				if st.Name == "stderr" {
					s = attach.Stderr
				}
				in = io.TeeReader(in, hub.Stream(s))
			}
			if lw == nil {
				io.Copy(io.Discard, in)
				return
			}
			lw.Drain(in, st.Name)
		}()
	}
	stopDNS := serveDNS(ctx, h.DNS)
	pctx, stopProbes := context.WithCancel(ctx)
	probed := make(chan struct{})
	go func() { probe(pctx, h.Probe); close(probed) }()
	code = waitInit(h.Pid)
	stopProbes()
	<-probed
	wg.Wait()
	// the exit recorded once the output is all in the log: whoever waits
	// for the exit may read it next
	h.ExitCode, h.Exited = code, time.Now().UTC()
	if h.StateDir != "" {
		h.Recorded, h.Halted, _ = RecordExit(ctx, h.StateDir, code, h.Exited, OOMKilled("/sys/fs/cgroup", h.Cgroup), h.Restart)
	}
	if caller != nil {
		caller.Close()
	}
	if input != nil {
		if hub != nil {
			hub.SetInput(nil)
		}
		input.Close()
	}
	if hub != nil {
		hub.Close(code) // its copy of the listener
	}
	return code, func() {
		stopDNS()
		for _, fd := range h.Held {
			unix.Close(fd)
		}
	}
}

// Listener is the listening socket on descriptor fd, which it takes over.
func Listener(fd int) (net.Listener, error) {
	f := os.NewFile(uintptr(fd), "listener")
	defer f.Close() // FileListener has a copy
	return net.FileListener(f)
}

// file is descriptor fd as a file, nil for None.
func file(fd int, name string) *os.File {
	if fd == None {
		return nil
	}
	return os.NewFile(uintptr(fd), name)
}

// waitInit waits for the init, this process's child, to exit and returns
// its exit code as a shell reports it.
func waitInit(pid int) int {
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		switch {
		case err != nil:
			return 255 // not this process's child: nothing to learn
		case ws.Signaled():
			return 128 + int(ws.Signal())
		case ws.Exited():
			return ws.ExitStatus()
		}
	}
}

// serveDNS serves the container's resolver on its sockets, until the
// returned function is called.
func serveDNS(ctx context.Context, d *DNS) (stop func()) {
	if d == nil {
		return func() {}
	}
	table, err := dns.OpenTable(d.Table)
	if err != nil {
		return func() {}
	}
	var pcs []net.PacketConn
	for _, fd := range d.UDP {
		f := os.NewFile(uintptr(fd), "dns")
		if pc, err := net.FilePacketConn(f); err == nil {
			pcs = append(pcs, pc)
		}
		f.Close() // FilePacketConn has its own copy
	}
	ln, err := Listener(d.TCP)
	if err != nil || len(pcs) == 0 {
		table.Close()
		return func() {}
	}
	r := &dns.Resolver{Table: table, Self: d.Self, Upstreams: d.Upstreams, Links: d.Links}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { dns.Serve(sctx, pcs, ln, r); close(done) }()
	return func() {
		cancel()
		<-done
		table.Close()
	}
}

// probe runs the healthcheck until ctx ends: p.Argv once per round, which
// prints the wait before the next round (a duration). A probe still
// running when ctx ends is killed.
func probe(ctx context.Context, p *Probe) {
	if p == nil {
		return
	}
	wait := time.Until(p.First)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		cmd := exec.Command(p.Argv[0], p.Argv[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		out, err := cmd.StdoutPipe()
		if err != nil || cmd.Start() != nil {
			continue // tried again after the same wait
		}
		next := make(chan string, 1)
		go func() {
			line, _ := bufio.NewReader(out).ReadString('\n')
			next <- strings.TrimSpace(line)
		}()
		var line string
		select {
		case line = <-next:
		case <-ctx.Done():
			// the container is gone: so is what the probe ran in it
			cmd.Process.Kill()
			line = <-next
		}
		cmd.Wait()
		if ctx.Err() != nil {
			return
		}
		// a probe that could not say (it failed before probing) leaves
		// the wait as it was
		if d, err := time.ParseDuration(line); err == nil {
			wait = d
		}
	}
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
