package main

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/berth-dev/berth/format"
)

// logPrinter prints what the engine gives a log consumer (api.Service's
// Attach and Logs) as docker compose prints it: each line after its
// container's prefix, padded to the widest name registered and coloured
// in the container's turn; exits and "Attaching to" on stdout, up's own
// status lines on stderr.
type logPrinter struct {
	out, err      io.Writer
	color, prefix bool

	mu    sync.Mutex // the lines of several containers never mix
	width int
	index map[string]int
}

func (p *logPrinter) Register(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.index == nil {
		p.index = map[string]int{}
	}
	if _, ok := p.index[name]; !ok {
		p.index[name] = len(p.index)
	}
	p.width = max(p.width, len(name))
}

func (p *logPrinter) Log(name, line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.prefix {
		fmt.Fprint(p.out, colored(format.LogPrefix(name, p.width), p.index[name], p.color))
	}
	fmt.Fprintln(p.out, line)
}

func (p *logPrinter) Exited(name string, code int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, "%s exited with code %d\n", name, code)
}

func (p *logPrinter) Attaching(names []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, "Attaching to %s\n", strings.Join(names, ", "))
}

func (p *logPrinter) Status(line string) {
	fmt.Fprintln(p.err, line)
}

// colored wraps s in the ith of compose's prefix colours.
func colored(s string, i int, on bool) string {
	if !on {
		return s
	}
	colors := []int{36, 33, 32, 35, 34, 96, 93, 92, 95, 94}
	return fmt.Sprintf("\x1b[%dm%s\x1b[0m", colors[i%len(colors)], s)
}
