package build

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress writes BuildKit's plain progress form: each step numbered
// (#N NAME), its output lines prefixed with its number, then DONE with
// its time, or ERROR.
type progress struct {
	mu sync.Mutex
	w  io.Writer
	n  int
}

func newProgress(w io.Writer) *progress {
	if w == nil {
		w = io.Discard
	}
	return &progress{w: w}
}

type stepProgress struct {
	p     *progress
	n     int
	name  string
	begin time.Time
	out   *lineWriter
}

func (p *progress) start(name string) *stepProgress {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	fmt.Fprintf(p.w, "#%d %s\n", p.n, name)
	return &stepProgress{p: p, n: p.n, name: name, begin: time.Now()}
}

func (s *stepProgress) log(line string) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	fmt.Fprintf(s.p.w, "#%d %s\n", s.n, line)
}

func (s *stepProgress) done() {
	s.log(fmt.Sprintf("DONE %.1fs", time.Since(s.begin).Seconds()))
}

func (s *stepProgress) fail(err error) {
	s.log("ERROR: " + strings.TrimPrefix(oneLine(err.Error()), s.name+": "))
}

// writer is where the step's process writes: each line is logged with
// the time since the step began.
func (s *stepProgress) writer() *lineWriter {
	if s.out == nil {
		s.out = &lineWriter{s: s}
	}
	return s.out
}

type lineWriter struct {
	mu  sync.Mutex
	s   *stepProgress
	buf bytes.Buffer
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(b)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line) // an unfinished line waits for its end
			return len(b), nil
		}
		w.emit(strings.TrimSuffix(line, "\n"))
	}
}

func (w *lineWriter) emit(line string) {
	w.s.log(fmt.Sprintf("%.3f %s", time.Since(w.s.begin).Seconds(), line))
}

// Flush logs an unfinished last line.
func (w *lineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() > 0 {
		w.emit(w.buf.String())
		w.buf.Reset()
	}
}
