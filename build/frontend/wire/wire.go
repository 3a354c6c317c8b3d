// Package wire is the exchange between package build and the Dockerfile
// frontend (package build/frontend), which berth runs as a program of
// its own, berth-build, so that berth does not link BuildKit's frontend
// and what it drags in (grpc, OpenTelemetry, x/crypto/ssh, ...): what is
// asked, what comes back, and both ends of the exchange over the
// program's stdin and stdout. It stays light: package build imports it.
//
// The exchange is JSON values, one after another: berth writes the
// Request; berth-build answers with messages, each either a Resolve (the
// config of a FROM image, which berth looks up in its store or pulls,
// with its progress, and answers with a Resolved) or the end: the Result
// or the frontend's Error.
package wire

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errclass"
)

// ErrUnsupported: the build needs what berth's builder does not do
// (package build's ErrUnsupported, which the frontend's refusals carry).
var ErrUnsupported = errclass.Sentinel(errclass.ErrInvalid, "not supported by berth's builder yet")

// Request is what the frontend converts: a Dockerfile, with its build
// args and target, into the LLB definition and the target's image config.
type Request struct {
	Dockerfile []byte            `json:"dockerfile"`
	Args       map[string]string `json:"args,omitempty"`
	Target     string            `json:"target,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	// OS and Architecture are the platform built for.
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	// Network, Hosts, ShmSize and Ulimits are the run options the
	// frontend puts in each RUN: Network is a pb.NetMode.
	Network int32    `json:"network,omitempty"`
	Hosts   []Host   `json:"hosts,omitempty"`
	ShmSize int64    `json:"shmSize,omitempty"`
	Ulimits []Ulimit `json:"ulimits,omitempty"`
	// Contexts are the frontend options naming the named contexts
	// (context:NAME is local:LOCALNAME or docker-image://REF); none, no
	// named context.
	Contexts map[string]string `json:"contexts,omitempty"`
	// Ignores are the paths of the .dockerignore files the frontend may
	// read, by local source name (the main context's is "context").
	Ignores map[string]string `json:"ignores,omitempty"`
}

// Host is an extra host (--add-host), its IP resolved.
type Host struct {
	Name string `json:"name"`
	IP   string `json:"ip"`
}

// Ulimit is a RUN's resource limit (--ulimit).
type Ulimit struct {
	Name string `json:"name"`
	Soft int64  `json:"soft"`
	Hard int64  `json:"hard"`
}

// Result is what the frontend made.
type Result struct {
	// Definition is the LLB definition, a marshalled pb.Definition.
	Definition []byte `json:"definition"`
	// Config is the target's image config (JSON, Docker's OCI form).
	Config []byte `json:"config"`
}

// Resolver gives the frontend the config of a FROM image.
type Resolver func(ctx context.Context, ref string) (digest.Digest, []byte, error)

// Convert is the frontend: in process (package build/frontend), or
// through berth-build (Exec).
type Convert func(ctx context.Context, req *Request, resolve Resolver) (*Result, error)

// Error is the frontend's refusal of a Dockerfile (a syntax error, an
// unknown stage, a base that could not be resolved), its message the
// frontend's word for word. Any other error of Convert is berth-build's
// own (missing, killed).
type Error struct {
	Msg string
	// errs are the frontend's error in process; from berth-build,
	// ErrUnsupported if it was of that class and the errors berth's
	// resolver gave it, which the frontend's wraps.
	errs []error
}

// Failed is the frontend's refusal err, as Error.
func Failed(err error) error { return &Error{Msg: err.Error(), errs: []error{err}} }

func (e *Error) Error() string   { return e.Msg }
func (e *Error) Unwrap() []error { return e.errs }

// toFrontend is what berth writes: first the request, then an answer
// to each Resolve.
type toFrontend struct {
	Request  *Request  `json:"request,omitempty"`
	Resolved *resolved `json:"resolved,omitempty"`
}

type resolved struct {
	Digest digest.Digest `json:"digest,omitempty"`
	Config []byte        `json:"config,omitempty"`
	Error  string        `json:"error,omitempty"`
}

// toBerth is what berth-build writes: a Resolve, or the end (Result or
// Error).
type toBerth struct {
	Resolve string   `json:"resolve,omitempty"`
	Result  *Result  `json:"result,omitempty"`
	Error   *failure `json:"error,omitempty"`
}

type failure struct {
	Message     string `json:"message"`
	Unsupported bool   `json:"unsupported,omitempty"`
}

// Serve is berth-build: it reads a request from in, converts it, asking
// berth for the image configs it needs, and writes the end to out.
func Serve(ctx context.Context, in io.Reader, out io.Writer, convert Convert) error {
	dec, enc := json.NewDecoder(in), json.NewEncoder(out)
	var first toFrontend
	if err := dec.Decode(&first); err != nil {
		return fmt.Errorf("reading the request: %w", err)
	}
	if first.Request == nil {
		return errors.New("reading the request: none given")
	}
	// one question at a time: the frontend's concurrent lookups wait
	// for each other
	var mu sync.Mutex
	resolve := func(ctx context.Context, ref string) (digest.Digest, []byte, error) {
		mu.Lock()
		defer mu.Unlock()
		if err := enc.Encode(toBerth{Resolve: ref}); err != nil {
			return "", nil, err
		}
		var a toFrontend
		if err := dec.Decode(&a); err != nil {
			return "", nil, fmt.Errorf("reading berth's answer for %s: %w", ref, err)
		}
		if a.Resolved == nil {
			return "", nil, fmt.Errorf("reading berth's answer for %s: none given", ref)
		}
		if a.Resolved.Error != "" {
			return "", nil, errors.New(a.Resolved.Error)
		}
		return a.Resolved.Digest, a.Resolved.Config, nil
	}
	res, err := convert(ctx, first.Request, resolve)
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		return enc.Encode(toBerth{Error: &failure{Message: err.Error(), Unsupported: errors.Is(err, ErrUnsupported)}})
	}
	return enc.Encode(toBerth{Result: res})
}

// Exec converts through the program berth-build at path: it answers the
// program's questions with resolve, and kills it when ctx ends.
func Exec(ctx context.Context, path string, req *Request, resolve Resolver) (*Result, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, errclass.New(errclass.ErrNotFound, "berth-build, which reads Dockerfiles for berth, is not installed: %s does not exist (make build puts it beside berth)", path)
	}
	cmd := exec.CommandContext(ctx, path)
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", path, err)
	}
	res, err := exchange(ctx, stdin, stdout, req, resolve)
	stdin.Close()
	var fe *Error
	if err != nil && !errors.As(err, &fe) {
		// a program berth no longer listens to must not wait on a full pipe
		cmd.Process.Kill()
	}
	werr := cmd.Wait()
	if err == nil || fe != nil {
		return res, err
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	// the first line the program wrote, when it failed, says why (its
	// own error, a panic's)
	msg := fmt.Sprintf("berth-build: %v", err)
	if werr != nil {
		msg += fmt.Sprintf(" (%v", werr)
		if first, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n"); first != "" {
			msg += ": " + first
		}
		msg += ")"
	}
	return nil, errclass.Wrap(errclass.ErrFailed, err, msg)
}

// exchange is berth's end of the exchange.
func exchange(ctx context.Context, in io.Writer, out io.Reader, req *Request, resolve Resolver) (*Result, error) {
	enc, dec := json.NewEncoder(in), json.NewDecoder(out)
	if err := enc.Encode(toFrontend{Request: req}); err != nil {
		return nil, fmt.Errorf("writing the request: %w", err)
	}
	// what the resolver gave the frontend, which its error wraps
	var given []error
	for {
		var m toBerth
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("reading its answer: %w", err)
		}
		switch {
		case m.Result != nil:
			return m.Result, nil
		case m.Error != nil:
			errs := given
			if m.Error.Unsupported {
				errs = append([]error{ErrUnsupported}, errs...)
			}
			return nil, &Error{Msg: m.Error.Message, errs: errs}
		case m.Resolve != "":
			dgst, cfg, err := resolve(ctx, m.Resolve)
			a := &resolved{Digest: dgst, Config: cfg}
			if err != nil {
				given = append(given, err)
				a = &resolved{Error: cmp.Or(err.Error(), "resolving "+m.Resolve+" failed")}
			}
			if err := enc.Encode(toFrontend{Resolved: a}); err != nil {
				return nil, fmt.Errorf("answering it: %w", err)
			}
		default:
			return nil, errors.New("reading its answer: an empty message")
		}
	}
}
