package attach

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/fixture"
)

// waitClients waits until the hub has n clients: Dial connects before it
// reads, and output sent earlier is not for it.
func waitClients(t *testing.T, h *Hub, n int) {
	t.Helper()
	for i := 0; ; i++ {
		h.mu.Lock()
		got := len(h.clients)
		h.mu.Unlock()
		if got == n {
			return
		}
		if i == 500 {
			t.Fatalf("%d clients connected, want %d", got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type result struct {
	code int
	err  error
}

// TestHub: two clients get the output of both streams and the exit code;
// input from a client reaches the container's stdin, and a client that
// ends its input leaves stdin open for the next.
func TestHub(t *testing.T) {
	root, id := t.TempDir(), fmt.Sprintf("c%d", time.Now().UnixNano())
	h, err := Listen(root, id)
	if err != nil {
		t.Fatal(err)
	}
	var stdin fixture.Buffer
	h.SetInput(&stdin)
	var out1, err1, out2, err2 fixture.Buffer
	done := make(chan result, 2)
	go func() { c, err := Dial(root, id, strings.NewReader("typed\n"), &out1, &err1); done <- result{c, err} }()
	go func() { c, err := Dial(root, id, nil, &out2, &err2); done <- result{c, err} }()
	waitClients(t, h, 2)
	io.WriteString(h.Stream(Stdout), "hello\n")
	io.WriteString(h.Stream(Stderr), "oops\n")
	for i := 0; stdin.String() != "typed\n"; i++ {
		if i == 500 {
			t.Fatalf("stdin got %q", stdin.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.Close(7)
	for range 2 {
		if r := <-done; r.err != nil || r.code != 7 {
			t.Errorf("Dial: %d, %v; want 7", r.code, r.err)
		}
	}
	for _, b := range []*fixture.Buffer{&out1, &out2} {
		if b.String() != "hello\n" {
			t.Errorf("stdout: %q", b.String())
		}
	}
	for _, b := range []*fixture.Buffer{&err1, &err2} {
		if b.String() != "oops\n" {
			t.Errorf("stderr: %q", b.String())
		}
	}
	if _, err := net.Dial("unix", Address(root, id)); err == nil {
		t.Error("still listening after Close")
	}
}

// TestDialGone: a hub that goes away without an exit frame is an error,
// and so is no hub at all.
func TestDialGone(t *testing.T) {
	root, id := t.TempDir(), fmt.Sprintf("g%d", time.Now().UnixNano())
	if _, err := Dial(root, id, nil, io.Discard, io.Discard); err == nil {
		t.Error("attached to nothing")
	}
	ln, err := net.Listen("unix", Address(root, id))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte{byte(Stdout), 0, 0, 0, 2, 'h', 'i'})
			c.Close()
		}
	}()
	var out bytes.Buffer
	if _, err := Dial(root, id, nil, &out, io.Discard); err == nil || out.String() != "hi" {
		t.Errorf("Dial: %v, %q", err, out.String())
	}
}

func TestAddress(t *testing.T) {
	if Address("/a", "x") == Address("/b", "x") || Address("/a", "x") == Address("/a", "y") || !strings.HasPrefix(Address("/a", "x"), "@berth/") {
		t.Error("addresses of other roots or containers collide")
	}
}
