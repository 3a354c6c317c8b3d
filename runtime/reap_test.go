package runtime

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestExecRacingExit: execs started back to back while the container's
// init is killed. Some are cut off part-way by the end of the container's
// PID namespace; none may leave a stage of runc's behind, unreaped: such a
// zombie keeps the init from ever finishing its exit, and its parent (the
// monitor) from ever seeing it.
func TestExecRacingExit(t *testing.T) {
	rt, lowers, _ := newRuntime(t)
	for round := range 40 {
		s, bundle := newSpec(t, lowers, "sleep", "1000")
		c, err := rt.Create(context.Background(), s, bundle)
		if err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		// on failure too: reaped what was left, the init can end and the
		// container go
		t.Cleanup(func() {
			for i := 0; i < 100 && !isClosed(exited); i++ {
				reapChildren()
				time.Sleep(50 * time.Millisecond)
			}
			c.Delete()
		})
		p, _, err := c.Start(IO{})
		if err != nil {
			close(exited)
			t.Fatal(err)
		}
		execs := make(chan int)
		go func() {
			n := 0
			for {
				e, _, err := rt.Exec(s.ID, Exec{Args: []string{"true"}, Env: s.Process.Env, Cwd: "/"}, IO{})
				if err != nil {
					break
				}
				e.Wait()
				n++
			}
			execs <- n
		}()
		// into the middle of an exec: one takes some milliseconds
		time.Sleep(time.Duration(round%10) * 3 * time.Millisecond)
		c.Signal(syscall.SIGKILL)
		go func() { p.Wait(); close(exited) }()
		n := <-execs
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: the init's exit never came (after %d execs); unreaped: %v", round, n, zombies(t))
		}
		// the failed exec's stages, reaped as they die
		for i := 0; len(zombies(t)) > 0; i++ {
			if i == 100 {
				t.Fatalf("round %d: left unreaped: %v", round, zombies(t))
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err := c.Delete(); err != nil {
			t.Fatal(err)
		}
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// reapChildren reaps every dead child of this process.
func reapChildren() {
	for {
		var ws syscall.WaitStatus
		if pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); pid <= 0 || err != nil {
			return
		}
	}
}

// zombies lists this process's dead, unreaped children.
func zombies(t *testing.T) []string {
	t.Helper()
	self := strconv.Itoa(os.Getpid())
	var found []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		if comm, state, ppid, ok := parseStat(stat); ok && ppid == self && state == "Z" {
			found = append(found, fmt.Sprintf("%s (%s)", e.Name(), comm))
		}
	}
	return found
}

func TestParseStat(t *testing.T) {
	comm, state, ppid, ok := parseStat([]byte("42 (runc:[1:CHILD]) Z 7 42 42 0 -1"))
	if !ok || string(comm) != "runc:[1:CHILD]" || state != "Z" || ppid != "7" {
		t.Errorf("parseStat: %q %q %q %v", comm, state, ppid, ok)
	}
	comm, _, ppid, ok = parseStat([]byte("9 (a) b (c)) S 1 9"))
	if !ok || string(comm) != "a) b (c)" || ppid != "1" {
		t.Errorf("a name with parentheses: %q %q %v", comm, ppid, ok)
	}
	if _, _, _, ok := parseStat([]byte("garbage")); ok {
		t.Error("garbage parsed")
	}
}

// TestStartTime: a process's start time holds while it lives, and a
// process started later has a later or equal one.
func TestStartTime(t *testing.T) {
	self, err := StartTime(os.Getpid())
	if err != nil || self == 0 {
		t.Fatalf("own start time: %d, %v", self, err)
	}
	if again, _ := StartTime(os.Getpid()); again != self {
		t.Errorf("changed from %d to %d", self, again)
	}
	child := exec.Command("sleep", "10")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Wait()
	defer child.Process.Kill()
	if later, err := StartTime(child.Process.Pid); err != nil || later < self {
		t.Errorf("a child's start time %d (%v), before ours %d", later, err, self)
	}
	if _, err := StartTime(-1); err == nil {
		t.Error("a start time for no process")
	}
}
