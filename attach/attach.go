package attach

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
)

// Stream is a frame's kind.
type Stream byte

// The frames' kinds.
const (
	Stdout Stream = 1
	Stderr Stream = 2
	Exit   Stream = 3
)

// Address is the attach socket of container id under state root root.
func Address(root, id string) string {
	sum := sha256.Sum256([]byte(root))
	return "@berth/" + hex.EncodeToString(sum[:6]) + "/" + id
}

// Hub is a container's attach point: output fans out to every client, and
// client input goes to the container.
type Hub struct {
	mu      sync.Mutex
	ln      net.Listener
	clients map[net.Conn]bool
	input   io.Writer // the container's stdin; nil without -i
}

// Open opens container id's attach point: its listening socket, where
// clients wait in the backlog until it is served.
func Open(root, id string) (net.Listener, error) {
	ln, err := net.Listen("unix", Address(root, id))
	if err != nil {
		return nil, fmt.Errorf("listening for attach: %w", err)
	}
	return ln, nil
}

// Listen opens container id's attach point and serves it until Close.
func Listen(root, id string) (*Hub, error) {
	ln, err := Open(root, id)
	if err != nil {
		return nil, err
	}
	return Serve(ln), nil
}

// Serve serves an attach point on ln, a listener that Open made (perhaps in
// another process, and handed over), until Close.
func Serve(ln net.Listener) *Hub {
	h := &Hub{ln: ln, clients: map[net.Conn]bool{}}
	go h.serve()
	return h
}

func (h *Hub) serve() {
	for {
		conn, err := h.ln.Accept()
		if err != nil {
			return // closed
		}
		h.mu.Lock()
		h.clients[conn] = true
		input := h.input
		h.mu.Unlock()
		if input != nil {
			// a client's end of input is not the container's: others may
			// attach later, as Docker keeps stdin open for them
			go io.Copy(writerFunc(func(p []byte) (int, error) {
				h.mu.Lock()
				defer h.mu.Unlock()
				if h.input == nil {
					return len(p), nil
				}
				return h.input.Write(p)
			}), conn)
		}
	}
}

// SetInput points client input at the current run's stdin (nil: none).
func (h *Hub) SetInput(w io.Writer) {
	h.mu.Lock()
	h.input = w
	h.mu.Unlock()
}

// Stream is a writer that sends what it gets to every client as s. A
// client that cannot take it is dropped; the writer never fails.
func (h *Hub) Stream(s Stream) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		h.send(s, p)
		return len(p), nil
	})
}

func (h *Hub) send(s Stream, p []byte) {
	frame := make([]byte, 5+len(p))
	frame[0] = byte(s)
	binary.BigEndian.PutUint32(frame[1:5], uint32(len(p)))
	copy(frame[5:], p)
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		if _, err := c.Write(frame); err != nil {
			c.Close()
			delete(h.clients, c)
		}
	}
}

// End tells every client the exit code and lets them go: an attach lasts
// until the container's process exits, as Docker's does, even when a
// restart policy starts it again. The hub still listens.
func (h *Hub) End(code int) {
	h.send(Exit, []byte(strconv.Itoa(code)))
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		c.Close()
		delete(h.clients, c)
	}
}

// Close ends the clients with the exit code and closes the listener it
// serves.
func (h *Hub) Close(code int) {
	h.End(code)
	h.ln.Close()
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// Dial attaches to container id's hub: it sends stdin (if not nil) and
// writes the frames it gets to stdout and stderr until the exit frame,
// whose code it returns.
func Dial(root, id string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	conn, err := net.Dial("unix", Address(root, id))
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if stdin != nil {
		go func() {
			io.Copy(conn, stdin)
			conn.(*net.UnixConn).CloseWrite()
		}()
	}
	r := bufio.NewReader(conn)
	head := make([]byte, 5)
	for {
		if _, err := io.ReadFull(r, head); err != nil {
			return 0, fmt.Errorf("the container's monitor went away: %w", err)
		}
		data := make([]byte, binary.BigEndian.Uint32(head[1:]))
		if _, err := io.ReadFull(r, data); err != nil {
			return 0, err
		}
		switch Stream(head[0]) {
		case Stdout:
			stdout.Write(data)
		case Stderr:
			stderr.Write(data)
		case Exit:
			return strconv.Atoi(string(data))
		}
	}
}
