package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/fixture"
	"github.com/berth-dev/berth/monitor"
	"github.com/berth-dev/berth/netns"
)

// berthBin is the binary under test, built once by TestMain.
var berthBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "berth-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	berthBin = filepath.Join(dir, "berth")
	if prebuilt := os.Getenv("BERTH_TEST_BINARIES"); prebuilt != "" {
		// a machine without a Go toolchain (scripts/vm-test.sh's guest) runs
		// the binaries built elsewhere: berth finds its monitor, shim,
		// init, keeper and Dockerfile frontend beside itself
		berthBin = filepath.Join(prebuilt, "berth")
		for _, name := range []string{"berth", "berth-monitor", "berth-shim", "berth-init", "berth-keeper", "berth-build"} {
			if _, err := os.Stat(filepath.Join(prebuilt, name)); err != nil {
				fmt.Fprintf(os.Stderr, "BERTH_TEST_BINARIES=%s: %v\n", prebuilt, err)
				os.Exit(1)
			}
		}
	} else if err := buildBinaries(dir); err != nil {
		fmt.Fprintln(os.Stderr, "building berth:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	// berth turns IPv4 forwarding on for its networks, as Docker does;
	// the machine gets its own setting back
	forwarding, ferr := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	code := m.Run()
	if ferr == nil {
		os.WriteFile("/proc/sys/net/ipv4/ip_forward", forwarding, 0o644)
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildBinaries builds berth as make build does, into dir: berth and
// berth-monitor with seccomp (libseccomp-dev, see scripts/deps.sh),
// berth-shim, berth-init, berth-keeper and berth-build static.
func buildBinaries(dir string) error {
	for _, b := range []struct {
		name   string
		static bool
	}{{"berth", false}, {"berth-init", true}, {"berth-monitor", false}, {"berth-shim", true}, {"berth-keeper", true}, {"berth-build", true}} {
		build := exec.Command("go", "build", "-tags", "seccomp", "-o", filepath.Join(dir, b.name), "../cmd/"+b.name)
		if b.static {
			build.Env = append(os.Environ(), "CGO_ENABLED=0")
		}
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("go build ../cmd/%s: %w", b.name, err)
		}
	}
	return nil
}

// result is what one run of berth printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

// commandTimeout bounds one berth command of a test: none takes more than
// seconds, and a hang must fail its test, naming the command, rather than
// the whole package at go test's timeout.
const commandTimeout = 3 * time.Minute

// berth runs the binary in dir with args and stdin, with the variables that
// steer compose loading cleared so the host cannot change the outcome.
func berth(t testing.TB, dir, stdin string, args ...string) result {
	t.Helper()
	return berthEnv(t, dir, nil, stdin, args...)
}

// berthEnv is berth with extra environment variables (KEY=VALUE).
func berthEnv(t testing.TB, dir string, env []string, stdin string, args ...string) result {
	t.Helper()
	return berthVia(t, berthBin, dir, env, stdin, args...)
}

// berthVia is berthEnv through bin, a program that runs berth itself, as
// the cgroup v2 test's wrapper does.
func berthVia(t testing.TB, bin, dir string, env []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := berthCmd(ctx, t, bin, dir, env, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("berth %s did not end within %v:\n%s%s", strings.Join(args, " "), commandTimeout, out.String(), errb.String())
	}
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("running berth: %v", err)
	}
	return result{out.String(), errb.String(), code}
}

// berthCmd is the command that runs berth through bin in dir with args
// until ctx ends, with the variables that steer compose loading cleared
// and env (KEY=VALUE) added; the berth root it uses is torn down when the
// test ends. Its standard streams are the caller's to set.
func berthCmd(ctx context.Context, t testing.TB, bin, dir string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	// a command that hangs says where: SIGQUIT makes Go print every
	// goroutine's stack on its standard error
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGQUIT) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "COMPOSE_") && !strings.HasPrefix(kv, "BERTH_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	// never the machine's own /var/lib/berth: a fresh root unless the test
	// names one with --root
	root := ""
	for i, a := range args[:max(len(args)-1, 0)] {
		if a == "--root" {
			root = args[i+1]
			break
		}
	}
	if root == "" {
		root = t.TempDir()
	}
	teardownOnCleanup(t, root)
	cmd.Env = append(cmd.Env, "PWD="+dir, "BERTH_ROOT="+root)
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// project writes files into a new directory and returns it.
func project(t testing.TB, files map[string]string) string { return fixture.Dir(t, files) }

var (
	tornMu sync.Mutex
	torn   = map[testing.TB]map[string]bool{}
)

// teardownOnCleanup removes, when the test ends, every network of the
// berth root, the default bridge that any container run makes included,
// so that no bridge, rule or address outlives the test.
func teardownOnCleanup(t testing.TB, root string) {
	tornMu.Lock()
	defer tornMu.Unlock()
	if torn[t] == nil {
		torn[t] = map[string]bool{}
		t.Cleanup(func() {
			tornMu.Lock()
			delete(torn, t)
			tornMu.Unlock()
		})
	}
	if torn[t][root] {
		return
	}
	torn[t][root] = true
	t.Cleanup(func() {
		// the build steps' runtime state directory, empty once the
		// builds ended, and the root's directory under /run/berth when
		// nothing else is left in it (a container's is removed by its
		// own cleanup, which may come later)
		run := filepath.Dir(monitor.RunDir(root))
		os.Remove(filepath.Join(run, "build"))
		os.Remove(run)
		dir := filepath.Join(root, "networks")
		if _, err := os.Stat(dir); err != nil {
			return
		}
		s, done, err := netns.OpenHost(dir)
		if err != nil {
			t.Errorf("tearing down %s: %v", dir, err)
			return
		}
		defer done()
		if err := s.Teardown(context.Background()); err != nil {
			t.Errorf("tearing down %s: %v", dir, err)
		}
	})
}
