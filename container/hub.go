package container

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

// The attach protocol, between a container's monitor and `attach`: the
// monitor listens on an abstract Unix socket (no file to clean up, no path
// length limit); a client reads frames of [stream byte][big-endian uint32
// length][data], stream 1 stdout, 2 stderr, 3 the exit code in decimal, and
// writes its input as raw bytes.
const (
	frameStdout = 1
	frameStderr = 2
	frameExit   = 3
)

// hubAddress is the attach socket of container id under state root root.
func hubAddress(root, id string) string {
	sum := sha256.Sum256([]byte(root))
	return "@berth/" + hex.EncodeToString(sum[:6]) + "/" + id
}

// hub is a container's attach point, kept by its monitor: output fans out
// to every client, and client input goes to the container.
type hub struct {
	mu      sync.Mutex
	ln      net.Listener
	clients map[net.Conn]bool
	input   io.Writer // the container's stdin; nil without -i
}

func listenHub(root, id string) (*hub, error) {
	ln, err := net.Listen("unix", hubAddress(root, id))
	if err != nil {
		return nil, fmt.Errorf("listening for attach: %w", err)
	}
	h := &hub{ln: ln, clients: map[net.Conn]bool{}}
	go h.serve()
	return h, nil
}

func (h *hub) serve() {
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

// setInput points client input at the current run's stdin.
func (h *hub) setInput(w io.Writer) {
	h.mu.Lock()
	h.input = w
	h.mu.Unlock()
}

// stream is a writer that sends what it gets to every client as stream s.
func (h *hub) stream(s byte) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		h.send(s, p)
		return len(p), nil
	})
}

func (h *hub) send(s byte, p []byte) {
	frame := make([]byte, 5+len(p))
	frame[0] = s
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

// close tells every client the exit code and stops listening.
func (h *hub) close(code int) {
	h.send(frameExit, []byte(strconv.Itoa(code)))
	h.ln.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		c.Close()
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// attachClient connects to a running container's monitor, sends stdin (if
// not nil) and writes the frames it gets to stdout and stderr until the
// exit frame, whose code it returns.
func attachClient(root, id string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	conn, err := net.Dial("unix", hubAddress(root, id))
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
		switch head[0] {
		case frameStdout:
			stdout.Write(data)
		case frameStderr:
			stderr.Write(data)
		case frameExit:
			return strconv.Atoi(string(data))
		}
	}
}
