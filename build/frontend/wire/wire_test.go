package wire

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errclass"
)

// childEnv makes the test binary berth-build's end of the exchange, with
// the converter it names (children), so that Exec talks to a real
// process over real pipes.
const childEnv = "BERTH_WIRE_TEST_CHILD"

var children = map[string]Convert{
	// asks for two images; the second one's failure is its refusal
	"resolve": func(ctx context.Context, req *Request, resolve Resolver) (*Result, error) {
		_, cfg, err := resolve(ctx, "bb:1")
		if err != nil {
			return nil, err
		}
		if _, _, err := resolve(ctx, "missing:1"); err != nil {
			return nil, Failed(fmt.Errorf("failed to resolve source metadata for missing:1: %w", err))
		}
		return &Result{Definition: req.Dockerfile, Config: cfg}, nil
	},
	"unsupported": func(context.Context, *Request, Resolver) (*Result, error) {
		return nil, Failed(fmt.Errorf("dockerfile: %w", errclass.New(ErrUnsupported, "resolving source git://x is not supported by berth's builder yet")))
	},
	"crash": func(context.Context, *Request, Resolver) (*Result, error) {
		panic("the frontend's bug")
	},
	// waits for berth to give up
	"stuck": func(ctx context.Context, _ *Request, resolve Resolver) (*Result, error) {
		resolve(ctx, "bb:1")
		<-ctx.Done()
		return nil, ctx.Err()
	},
}

func TestMain(m *testing.M) {
	if name := os.Getenv(childEnv); name != "" {
		if err := Serve(context.Background(), os.Stdin, os.Stdout, children[name]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child is the path of a program that is the test binary as the child
// name (a script, since Exec passes no environment of its own).
func child(t *testing.T, name string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "berth-build")
	script := fmt.Sprintf("#!/bin/sh\n%s=%s exec %q\n", childEnv, name, self)
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExecResolves: berth answers berth-build's image lookups; the
// frontend's refusal comes back word for word and still wraps what the
// resolver said (its class), and a result comes back whole.
func TestExecResolves(t *testing.T) {
	missing := errclass.New(errclass.ErrNotFound, "pulling missing:1: not found")
	var asked []string
	resolve := func(_ context.Context, ref string) (digest.Digest, []byte, error) {
		asked = append(asked, ref)
		if ref == "missing:1" {
			return "", nil, missing
		}
		return "", []byte(`{"os":"linux"}`), nil
	}
	_, err := Exec(context.Background(), child(t, "resolve"), &Request{Dockerfile: []byte("FROM bb:1\n")}, resolve)
	var refused *Error
	if !errors.As(err, &refused) {
		t.Fatalf("error %v (%T), want the frontend's refusal", err, err)
	}
	if want := "failed to resolve source metadata for missing:1: pulling missing:1: not found"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if !errors.Is(err, errclass.ErrNotFound) || errors.Is(err, ErrUnsupported) {
		t.Errorf("error %v: not of the resolver's class, or unsupported", err)
	}
	if strings.Join(asked, " ") != "bb:1 missing:1" {
		t.Errorf("asked for %v", asked)
	}
}

// TestExecUnsupported: a refusal of class ErrUnsupported keeps it.
func TestExecUnsupported(t *testing.T) {
	_, err := Exec(context.Background(), child(t, "unsupported"), &Request{}, nil)
	if want := "dockerfile: resolving source git://x is not supported by berth's builder yet"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("error %v is not ErrUnsupported", err)
	}
}

// TestExecCancel: berth giving up kills berth-build, and says why.
func TestExecCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resolve := func(context.Context, string) (digest.Digest, []byte, error) {
		cancel()
		return "", []byte(`{}`), nil
	}
	_, err := Exec(ctx, child(t, "stuck"), &Request{}, resolve)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

// TestExecCrash: berth-build dying is berth-build's failure, not the
// Dockerfile's, and says why.
func TestExecCrash(t *testing.T) {
	_, err := Exec(context.Background(), child(t, "crash"), &Request{}, nil)
	var refused *Error
	if err == nil || errors.As(err, &refused) || !errors.Is(err, errclass.ErrFailed) {
		t.Fatalf("error %v (%T), want berth-build's failure", err, err)
	}
	if want := "exit status 2: panic: the frontend's bug"; !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Errorf("error %q, want one line containing %q", err, want)
	}
}

// TestExecMissing: without berth-build, one line that names it.
func TestExecMissing(t *testing.T) {
	p := filepath.Join(t.TempDir(), "berth-build")
	_, err := Exec(context.Background(), p, &Request{}, nil)
	if err == nil || !strings.Contains(err.Error(), "berth-build") || !strings.Contains(err.Error(), p) || strings.Contains(err.Error(), "\n") {
		t.Errorf("error %v, want one line naming %s", err, p)
	}
	if !errors.Is(err, errclass.ErrNotFound) {
		t.Errorf("error %v is not of class not found", err)
	}
}
