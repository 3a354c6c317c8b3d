package image

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Progress receives what a pull or push is doing. Layers are named by the
// first 12 hex digits of their digest, as Docker shows them. It is an
// alias of an interface literal so that container.Progress, the same
// literal, is the same type: container must not import this package.
type Progress = interface {
	// Layer reports a layer's state: "Waiting", "Downloading", "Extracting",
	// "Pull complete", ...; current and total are bytes, or 0 when unknown.
	Layer(id, status string, current, total int64)
	// Line reports a whole line ("Digest: sha256:...").
	Line(text string)
}

// NewProgress returns Docker's progress display: on a terminal, one line per
// layer redrawn in place with a bar; otherwise one plain line each time a
// layer changes state (never per byte), which keeps logs readable.
func NewProgress(w io.Writer, tty bool) Progress {
	if tty {
		return &ttyProgress{w: w}
	}
	return &plainProgress{w: w, last: map[string]string{}}
}

// Quiet is a Progress that shows nothing.
var Quiet Progress = quiet{}

type quiet struct{}

func (quiet) Layer(string, string, int64, int64) {}
func (quiet) Line(string)                        {}

type plainProgress struct {
	mu   sync.Mutex
	w    io.Writer
	last map[string]string
}

func (p *plainProgress) Layer(id, status string, _, _ int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last[id] == status {
		return
	}
	p.last[id] = status
	fmt.Fprintf(p.w, "%s: %s\n", id, status)
}

func (p *plainProgress) Line(text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.w, text)
}

type ttyProgress struct {
	mu       sync.Mutex
	w        io.Writer
	ids      []string
	lines    map[string]string
	drawn    int // layer lines on screen
	lastDraw time.Time
}

func (p *ttyProgress) Layer(id, status string, current, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lines == nil {
		p.lines = map[string]string{}
	}
	line := id + ": " + status
	if total > 0 && (status == "Downloading" || status == "Pushing" || status == "Extracting") {
		line += " " + bar(current, total)
	}
	if _, ok := p.lines[id]; !ok {
		p.ids = append(p.ids, id)
	}
	changedState := !strings.HasPrefix(p.lines[id], id+": "+status)
	p.lines[id] = line
	// byte counts redraw at most ten times a second
	if changedState || time.Since(p.lastDraw) > 100*time.Millisecond {
		p.draw()
	}
}

func (p *ttyProgress) Line(text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw()
	fmt.Fprintln(p.w, text)
	// lines printed under the layers: the block is no longer redrawn
	p.ids, p.lines, p.drawn = nil, nil, 0
}

func (p *ttyProgress) draw() {
	if p.drawn > 0 {
		fmt.Fprintf(p.w, "\x1b[%dA", p.drawn) // cursor up to the first layer line
	}
	for _, id := range p.ids {
		fmt.Fprintf(p.w, "\x1b[2K%s\n", p.lines[id])
	}
	p.drawn = len(p.ids)
	p.lastDraw = time.Now()
}

// bar is Docker's [=====>    ] 1.2MB/3.4MB.
func bar(current, total int64) string {
	const width = 50
	n := int(float64(width) * float64(current) / float64(total))
	n = max(0, min(n, width))
	arrow := strings.Repeat("=", n)
	if n < width {
		arrow += ">" + strings.Repeat(" ", width-n-1)
	}
	return fmt.Sprintf("[%s] %8s/%s", arrow, humanSize(current), humanSize(total))
}

// humanSize is Docker's size notation: decimal units, 4 significant digits.
func humanSize(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	f := float64(n)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.4g%s", f, units[i])
}

// counter reports bytes read through it as a layer's progress.
type counter struct {
	r          io.Reader
	p          Progress
	id, status string
	n, total   int64
}

func (c *counter) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	c.p.Layer(c.id, c.status, c.n, c.total)
	return n, err
}

func shortID(hex string) string {
	if len(hex) > 12 {
		return hex[:12]
	}
	return hex
}
