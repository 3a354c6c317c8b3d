package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"
)

// reporter is how compose commands show progress, as --progress asks:
// plain lines (" Container web-1  Started"), a live display that redraws
// one line per object on a terminal (tty; auto on a terminal), JSON lines,
// or nothing (quiet).
func (g *globals) reporter() func(kind, name, status string) {
	mode := g.progress
	if mode == "auto" {
		mode = "plain"
		if f, ok := g.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			mode = "tty"
		}
	}
	switch mode {
	case "quiet":
		return nil
	case "json":
		enc := json.NewEncoder(g.stderr)
		return func(kind, name, status string) {
			enc.Encode(map[string]string{"id": kind + " " + name, "status": status})
		}
	case "tty":
		return (&live{w: g.liveView()}).update
	}
	return func(kind, name, status string) { fmt.Fprintf(g.stderr, " %s %s  %s\n", kind, name, status) }
}

// live is the terminal display: one line per object, in the order they
// first appeared, each redrawn in place when its status changes.
type live struct {
	w      io.Writer // a termView on a terminal
	order  []string
	status map[string]string
	drawn  int // lines on screen
}

func (l *live) update(kind, name, status string) {
	if l.status == nil {
		l.status = map[string]string{}
	}
	if w, ok := l.w.(interface{ Interrupted() bool }); ok && w.Interrupted() {
		l.drawn = 0 // the builds' view was drawn below: start afresh under it
	}
	id := kind + " " + name
	if _, ok := l.status[id]; !ok {
		l.order = append(l.order, id)
	}
	l.status[id] = status
	var b strings.Builder
	if l.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", l.drawn) // back to the first line
	}
	width, done := 0, 0
	for _, id := range l.order {
		width = max(width, len(id))
		if !strings.HasSuffix(l.status[id], "ing") {
			done++
		}
	}
	// compose's header: how many objects have reached their state
	fmt.Fprintf(&b, "\x1b[2K[+] Running %d/%d\n", done, len(l.order))
	for _, id := range l.order {
		mark := "✔"
		switch st := l.status[id]; {
		case strings.HasSuffix(st, "ing"):
			mark = "⠿"
		case st == "Error":
			mark = "✘"
		}
		fmt.Fprintf(&b, "\x1b[2K %s %-*s  %s\n", mark, width, id, l.status[id])
	}
	l.drawn = len(l.order) + 1
	io.WriteString(l.w, b.String())
}

// liveTerm is standard error as the live views drawn on it share it:
// compose's (reporter) and the builds' (buildDisplay). Each redraws its
// lines in place by moving the cursor up over them, which holds only
// while nothing was written below them since; so each view writes
// through a termView of its own, which tells it when another view wrote
// last, for it to start afresh below.
type liveTerm struct {
	mu   sync.Mutex
	w    io.Writer
	last *termView
}

type termView struct{ t *liveTerm }

// liveView is a view of its own on standard error, a terminal.
func (g *globals) liveView() *termView {
	if g.term == nil {
		g.term = &liveTerm{w: g.stderr}
	}
	return &termView{t: g.term}
}

func (v *termView) Write(b []byte) (int, error) {
	v.t.mu.Lock()
	defer v.t.mu.Unlock()
	v.t.last = v
	return v.t.w.Write(b)
}

// Interrupted says whether another view wrote since this one did.
func (v *termView) Interrupted() bool {
	v.t.mu.Lock()
	defer v.t.mu.Unlock()
	return v.t.last != nil && v.t.last != v
}

// Fd is the terminal's, for the builds' view to learn its size.
func (v *termView) Fd() uintptr {
	if f, ok := v.t.w.(*os.File); ok {
		return f.Fd()
	}
	return ^uintptr(0) // none: the view takes BuildKit's default size
}
