package shim

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/attach"
	"github.com/berth-dev/berth/jsonlog"
)

// fd is f's descriptor as a handoff carries it: a copy, which Wait owns.
func fd(t *testing.T, f *os.File) int {
	t.Helper()
	g, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	n := None
	g.Control(func(d uintptr) {
		c, err := unix.Dup(int(d))
		if err != nil {
			t.Fatal(err)
		}
		n = c
	})
	return n
}

// socketFd is a copy of ln's descriptor, as a handoff carries it.
func socketFd(t *testing.T, ln net.Listener) int {
	t.Helper()
	rc, err := ln.(*net.UnixListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	n := None
	rc.Control(func(d uintptr) { n, _ = unix.Dup(int(d)) })
	return n
}

// TestWait: a process stands in for the container's init, a child of the
// test as the init is the monitor's. Wait drains its two streams into the
// log and into an attached caller's pipes, passes the caller's input to
// it, serves the attach point, runs the probe command while it waits, and
// returns its exit code once it ends.
func TestWait(t *testing.T) {
	dir := t.TempDir()
	outR, outW, _ := os.Pipe()
	errR, errW, _ := os.Pipe()
	inR, inW, _ := os.Pipe()
	callerR, callerW, _ := os.Pipe()
	teeR, teeW, _ := os.Pipe()
	init := exec.Command("sh", "-c", `echo out; echo err >&2; read line; echo "got $line"; exit 3`)
	init.Stdin, init.Stdout, init.Stderr = inR, outW, errW
	if err := init.Start(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []*os.File{inR, outW, errW} {
		f.Close()
	}
	probes := filepath.Join(dir, "probes")
	id := "w" + filepath.Base(dir)
	h := &Handoff{Root: dir, ID: id, Pid: init.Process.Pid, Status: None, Hub: None,
		Log:     Log{Path: filepath.Join(dir, "log")},
		Streams: []Stream{{FD: fd(t, outR), Name: "stdout", Tee: fd(t, teeW)}, {FD: fd(t, errR), Name: "stderr", Tee: None}},
		Input:   fd(t, inW), CallerInput: fd(t, callerR), CloseInput: true,
		Probe: &Probe{Argv: []string{"sh", "-c", "echo probed >> " + probes + "; echo 10ms"}, First: time.Now()},
	}
	for _, f := range []*os.File{outR, errR, inW, callerR, teeW} {
		f.Close()
	}
	ln, err := attach.Open(dir, id)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	h.Hub = socketFd(t, ln)
	conn, err := net.Dial("unix", attach.Address(dir, id))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	code := make(chan int, 1)
	go func() { c, release := Wait(context.Background(), h); release(); code <- c }()
	// the init waits for its input: probes run meanwhile
	for i := 0; ; i++ {
		if data, _ := os.ReadFile(probes); strings.Count(string(data), "probed") >= 2 {
			break
		}
		if i == 500 {
			t.Fatal("no probe ran")
		}
		time.Sleep(10 * time.Millisecond)
	}
	callerW.WriteString("hello\n")
	callerW.Close()
	select {
	case c := <-code:
		if c != 3 {
			t.Errorf("exit code %d, want 3", c)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Wait did not return after the init's exit")
	}
	init.Process.Release()
	var logged []string
	jsonlog.Read(h.Log.Path, 0, func(e jsonlog.Entry) error { logged = append(logged, e.Stream+" "+e.Log); return nil })
	if got := strings.Join(logged, ""); !strings.Contains(got, "stdout out\n") || !strings.Contains(got, "stderr err\n") || !strings.Contains(got, "stdout got hello\n") {
		t.Errorf("log: %q", logged)
	}
	if tee, _ := io.ReadAll(teeR); string(tee) != "out\ngot hello\n" {
		t.Errorf("the caller's copy of stdout: %q", tee)
	}
	// the attach client got the output and then the exit code
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	frames := map[byte]string{}
	head := make([]byte, 5)
	for {
		if _, err := io.ReadFull(conn, head); err != nil {
			break
		}
		data := make([]byte, binary.BigEndian.Uint32(head[1:]))
		io.ReadFull(conn, data)
		frames[head[0]] += string(data)
	}
	if frames[byte(attach.Exit)] != "3" || !strings.Contains(frames[byte(attach.Stdout)], "got hello") {
		t.Errorf("attach frames: %q", frames)
	}
	// no probe after the exit
	data, _ := os.ReadFile(probes)
	time.Sleep(50 * time.Millisecond)
	if later, _ := os.ReadFile(probes); len(later) != len(data) {
		t.Error("probing went on after the exit")
	}
}

// TestWaitSignaled: an init killed by a signal exits as a shell reports
// it, 128 plus the signal's number.
func TestWaitSignaled(t *testing.T) {
	init := exec.Command("sleep", "60")
	if err := init.Start(); err != nil {
		t.Fatal(err)
	}
	init.Process.Signal(os.Kill)
	h := &Handoff{Pid: init.Process.Pid, Input: None, CallerInput: None, Hub: None, Status: None, Log: Log{Path: filepath.Join(t.TempDir(), "log")}}
	if code, _ := Wait(context.Background(), h); code != 137 {
		t.Errorf("exit code %d, want 137", code)
	}
}

// TestHandoffRead: a handoff read back names the same descriptors, and
// marks them close-on-exec, so that the waiting process's children (the
// probes) get none of them.
func TestHandoffRead(t *testing.T) {
	r, w, _ := os.Pipe()
	defer r.Close()
	defer w.Close()
	want := &Handoff{ID: "x", Pid: 42, Input: fd(t, w), CallerInput: None, Hub: None, Status: None,
		Streams: []Stream{{FD: fd(t, r), Name: "stdout", Tee: None}}, DNS: &DNS{UDP: []int{fd(t, r)}, TCP: fd(t, r), Table: "/t"}}
	mem, err := memfdWith(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Read(mem)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "x" || got.Pid != 42 || got.Input != want.Input || got.Streams[0].FD != want.Streams[0].FD || got.DNS.TCP != want.DNS.TCP {
		t.Errorf("read back %+v, want %+v", got, want)
	}
	for _, d := range got.Fds() {
		if d == None {
			continue
		}
		if flags, err := unix.FcntlInt(uintptr(d), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("descriptor %d not close-on-exec: %v", d, err)
		}
		unix.Close(d)
	}
}
