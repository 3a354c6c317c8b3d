package keeper

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary plays the keeper and the monitor in turn, by its
// command line: a monitor records its PID, that of a grandchild it leaves
// behind and whether it has descriptor 3, in the directory its --root
// names, and waits to be killed; a recovery monitor (--recover) records
// its command line and ends once that grandchild has been reaped.
func TestMain(m *testing.M) {
	switch {
	case len(os.Args) > 1 && os.Args[1] == "__keeper":
		os.Exit(Main(Args()))
	case len(os.Args) > 4 && os.Args[3] == "__monitor":
		dir := os.Args[2]
		if os.Args[len(os.Args)-1] == "--recover" {
			os.WriteFile(filepath.Join(dir, "recovered"), []byte(strings.Join(os.Args[1:], " ")), 0o644)
			var monitor, orphan int
			data, _ := os.ReadFile(filepath.Join(dir, "monitor"))
			fmt.Sscanf(string(data), "%d %d", &monitor, &orphan)
			for i := 0; i < 1000; i++ {
				if _, err := os.Stat(fmt.Sprintf("/proc/%d", orphan)); err != nil {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			os.Exit(0)
		}
		orphan := exec.Command("sleep", "60")
		orphan.Start()
		_, status := os.Stat("/proc/self/fd/3")
		os.WriteFile(filepath.Join(dir, "monitor.tmp"), []byte(fmt.Sprintf("%d %d %v", os.Getpid(), orphan.Process.Pid, status == nil)), 0o644)
		os.Rename(filepath.Join(dir, "monitor.tmp"), filepath.Join(dir, "monitor"))
		// until killed: not select {}, which the runtime ends as a
		// deadlock (exit 2) when no other goroutine can run, as without
		// -race, and the keeper would then see a monitor that ended
		// by itself
		time.Sleep(time.Hour)
	}
	os.Exit(m.Run())
}

// TestKeeper: the keeper starts the monitor only on the go-ahead, hands it
// the status pipe as its descriptor 3, adopts what the monitor leaves
// when it is killed (the container's init, here a sleep), reaps it, runs
// the recovery monitor, and ends when that ends by itself.
func TestKeeper(t *testing.T) {
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	goR, goW, _ := os.Pipe()
	statusR, statusW, _ := os.Pipe()
	defer statusR.Close()
	keeper := exec.Command(self, "__keeper", self, "--root", dir, "__monitor", "ID")
	keeper.ExtraFiles = []*os.File{goR, statusW}
	if err := keeper.Start(); err != nil {
		t.Fatal(err)
	}
	goR.Close()
	statusW.Close()
	t.Cleanup(func() { keeper.Process.Kill(); keeper.Wait() })
	time.Sleep(100 * time.Millisecond)
	if _, err := os.Stat(filepath.Join(dir, "monitor")); err == nil {
		t.Fatal("the monitor started before the go-ahead")
	}
	goW.Write([]byte{1})
	goW.Close()
	var monitor, orphan int
	var hadStatus bool
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(filepath.Join(dir, "monitor"))
		if n, _ := fmt.Sscanf(string(data), "%d %d %v", &monitor, &orphan, &hadStatus); n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no monitor started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(func() { syscall.Kill(orphan, syscall.SIGKILL) })
	if !hadStatus {
		t.Error("the monitor has no descriptor 3")
	}
	syscall.Kill(monitor, syscall.SIGKILL)
	// the orphan is the keeper's now
	for ppid := ""; ppid != strconv.Itoa(keeper.Process.Pid); {
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", orphan))
		if f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(f) > 1 {
			ppid = f[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("the monitor's orphan has parent %s, not the keeper %d", ppid, keeper.Process.Pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	syscall.Kill(orphan, syscall.SIGKILL)
	done := make(chan error, 1)
	go func() { done <- keeper.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("keeper: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the keeper did not end after the recovery")
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "recovered")); string(got) != "--root "+dir+" __monitor ID --recover" {
		t.Errorf("recovery monitor's command line: %q", got)
	}
	// the orphan was reaped, not left a zombie
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", orphan)); err == nil {
		t.Errorf("the orphan %d is still there", orphan)
	}
	// and the keeper kept no copy of the status pipe
	buf := make([]byte, 1)
	statusR.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := statusR.Read(buf); err == nil || !strings.Contains(err.Error(), "EOF") {
		t.Errorf("status pipe after the end: %v", err)
	}
}

func TestUsage(t *testing.T) {
	if code := Main([]string{"berth-keeper"}); code != 2 {
		t.Errorf("no arguments: exit %d", code)
	}
}
