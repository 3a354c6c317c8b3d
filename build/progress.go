package build

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/moby/buildkit/solver/pb"
	"github.com/opencontainers/go-digest"
	"golang.org/x/term"

	"github.com/berth-dev/berth/format"
	"github.com/berth-dev/berth/image"
)

// Display shows builds' progress on one writer, in one of BuildKit's
// forms: plain lines (each step numbered, #N NAME, its output lines
// prefixed with its number and the time since it began, then DONE with
// its time, CACHED, or ERROR), or, on a terminal, a live view that
// redraws in place: a header with the time and the steps done, a line
// per step with its time, and the last lines of a running step's output.
// Either way a failed step's whole output follows, with the Dockerfile
// lines it came from. Several builds (compose's services) may share one
// Display: their steps are numbered in one sequence and named after
// their service ([web 2/3] RUN make); on a terminal each build is a view
// of its own, left on the screen when it ends.
//
// The live view is redrawn by moving the cursor up over the lines it
// drew, which works only while each of them is one line of the terminal
// and all are on the screen: so, as BuildKit's, every line is cut to the
// terminal's width, and while steps run the view is no taller than the
// terminal, the latest steps shown; when the build ends it is drawn once
// more whole.
type Display struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	n     int
	begin time.Time
	steps []*stepProgress // tty: the steps of the view, in order
	drawn int             // tty: lines on screen
	tick  *time.Ticker    // tty: redraws while a step runs
}

// NewDisplay is a display on w: live when tty, else plain lines.
func NewDisplay(w io.Writer, tty bool) *Display {
	return &Display{w: w, tty: tty, begin: time.Now()}
}

// Writer is what a build's Options.Progress is to be shown on d; name,
// when not "", prefixes its steps' names (a compose service's).
func (d *Display) Writer(name string) io.Writer { return &displayWriter{d: d, name: name} }

// displayWriter carries a Display into Options.Progress; what is written
// to it directly is shown as it is.
type displayWriter struct {
	d    *Display
	name string
}

func (w *displayWriter) Write(b []byte) (int, error) {
	w.d.mu.Lock()
	defer w.d.mu.Unlock()
	w.d.clear()
	n, err := w.d.w.Write(b)
	w.d.redraw()
	return n, err
}

// pulls is where the progress of a base image's pull goes: on a
// terminal, docker pull's plain lines, shown above the live view, which
// a display of the pull's own, redrawn in place too, would break.
func (p *progress) pulls(pull image.Progress) image.Progress {
	switch {
	case pull == nil:
		return image.Quiet
	case p.d.tty:
		return image.NewProgress(&displayWriter{d: p.d}, false)
	}
	return pull
}

// outputKept bounds the lines of a step's output kept to be shown again
// when it fails.
const outputKept = 10000

// tail is how many of a running step's last lines the live view shows.
const tail = 6

// progress is one build's view of its display.
type progress struct {
	d    *Display
	name string
	// where each step comes from in the Dockerfile, by step name
	lines      map[string][]lineRange
	dockerfile []string
	failed     *stepProgress
}

type lineRange struct{ start, end int }

func newProgress(w io.Writer) *progress {
	if dw, ok := w.(*displayWriter); ok {
		return &progress{d: dw.d, name: dw.name}
	}
	if w == nil {
		w = io.Discard
	}
	return &progress{d: NewDisplay(w, false)}
}

// stepProgress is one step as shown.
type stepProgress struct {
	p      *progress
	n      int
	name   string
	raw    string // the name as the frontend gave it
	begin  time.Time
	took   time.Duration
	state  string   // "" running, "done", "cached", "error"
	output []string // stamped with the time since the step began
	tail   []string // tty: the last lines, as they are
	out    *lineWriter
}

func (p *progress) stepName(name string) string {
	if p.name == "" {
		return name
	}
	if rest, ok := strings.CutPrefix(name, "["); ok {
		return "[" + p.name + " " + rest
	}
	return "[" + p.name + "] " + name
}

func (p *progress) start(name string) *stepProgress {
	d := p.d
	d.mu.Lock()
	defer d.mu.Unlock()
	d.n++
	s := &stepProgress{p: p, n: d.n, name: p.stepName(name), raw: name, begin: time.Now()}
	if !d.tty {
		fmt.Fprintf(d.w, "#%d %s\n", s.n, s.name)
		return s
	}
	if len(d.steps) == 0 {
		d.begin = s.begin // a new view
	}
	d.steps = append(d.steps, s)
	if d.tick == nil {
		d.tick = time.NewTicker(100 * time.Millisecond)
		go d.ticks(d.tick)
	}
	d.draw()
	return s
}

// ticks redraws the live view (the running steps' times) until no step
// runs.
func (d *Display) ticks(t *time.Ticker) {
	for range t.C {
		d.mu.Lock()
		if d.tick != t {
			d.mu.Unlock()
			return
		}
		d.draw()
		d.mu.Unlock()
	}
}

// log shows a line of the step's own (not its process's output).
func (s *stepProgress) log(line string) {
	d := s.p.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.tty {
		fmt.Fprintf(d.w, "#%d %s\n", s.n, line)
	}
}

func (s *stepProgress) done() { s.end("done") }

// end ends the step: "done", or "cached" for a step whose result was
// reused (shown CACHED, as BuildKit shows it).
func (s *stepProgress) end(state string) {
	d := s.p.d
	d.mu.Lock()
	defer d.mu.Unlock()
	s.state, s.took = state, time.Since(s.begin)
	if !d.tty {
		if state == "cached" {
			fmt.Fprintf(d.w, "#%d CACHED\n", s.n)
		} else {
			fmt.Fprintf(d.w, "#%d DONE %.1fs\n", s.n, s.took.Seconds())
		}
		return
	}
	d.idle()
	d.draw()
}

// finish ends the build's view: drawn whole, and left where it is.
func (p *progress) finish() {
	d := p.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.tty && len(d.steps) > 0 {
		d.idle()
		d.full()
	}
}

// full draws the view whole, every step of it, and leaves it on the
// screen: what comes next goes below it. Its running steps (another
// build's, or another stage's when one failed) start the next view.
func (d *Display) full() {
	d.render(true)
	d.drawn = 0
	var running []*stepProgress
	for _, s := range d.steps {
		if s.state == "" {
			running = append(running, s)
		}
	}
	d.steps = running
}

// fail shows the step's error, and then its whole output and where it
// comes from in the Dockerfile, as BuildKit does.
func (s *stepProgress) fail(err error) {
	d := s.p.d
	d.mu.Lock()
	defer d.mu.Unlock()
	s.state, s.took = "error", time.Since(s.begin)
	s.p.failed = s
	if d.tty {
		d.idle()
		d.full() // the report follows it
	} else {
		fmt.Fprintf(d.w, "#%d ERROR: %s\n", s.n, strings.TrimPrefix(oneLine(err.Error()), s.raw+": "))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "------\n > %s:\n", s.name)
	for _, l := range s.output {
		b.WriteString(l + "\n")
	}
	b.WriteString("------\n")
	b.WriteString(s.p.excerpt(s))
	io.WriteString(d.w, b.String())
}

// idle stops the ticks when no step runs.
func (d *Display) idle() {
	for _, s := range d.steps {
		if s.state == "" {
			return
		}
	}
	if d.tick != nil {
		d.tick.Stop()
		d.tick = nil
	}
}

// clear takes the live view off the screen, for other lines to go where
// it was; redraw puts it back under them.
func (d *Display) clear() {
	d.interrupted()
	if d.tty && d.drawn > 0 {
		fmt.Fprintf(d.w, "\x1b[%dA\x1b[J", d.drawn)
		d.drawn = 0
	}
}

func (d *Display) redraw() {
	if d.tty && len(d.steps) > 0 {
		d.draw()
	}
}

// draw redraws the live view in place: BuildKit's header, a line per
// step with its time, the last lines of each running step's output.
func (d *Display) draw() { d.render(false) }

// render draws the view over the one on the screen: whole, or as much
// as the screen holds (the latest steps, the running ones always).
func (d *Display) render(whole bool) {
	d.interrupted()
	cols, rows := d.size()
	cols-- // the last column left empty, as BuildKit leaves it
	var b strings.Builder
	if d.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", d.drawn)
	}
	lines := 0
	line := func(s string) {
		b.WriteString("\x1b[2K")
		b.WriteString(s)
		b.WriteString("\n")
		lines++
	}
	finished := 0
	for _, s := range d.steps {
		if s.state != "" {
			finished++
		}
	}
	header := fmt.Sprintf("[+] Building %.1fs (%d/%d)", time.Since(d.begin).Seconds(), finished, len(d.steps))
	if whole && finished == len(d.steps) && !d.failed() {
		header += " FINISHED"
	}
	line(cut(header, cols))
	// the screen holds rows-1 lines above the cursor's
	room := len(d.steps)
	if !whole {
		room = max(0, min(room, rows-2))
	}
	shown := d.latest(room)
	room = rows - 2 - len(shown) // for running steps' output
	for _, s := range shown {
		took := s.took
		if s.state == "" {
			took = time.Since(s.begin)
		}
		mark := ""
		switch s.state {
		case "cached":
			mark = "CACHED "
		case "error":
			mark = "ERROR "
		}
		// as BuildKit: " => NAME", the time at the right edge
		timer := fmt.Sprintf(" %.1fs", took.Seconds())
		left := cols - len(" => ") - len(mark) - len(timer) - 1
		if left < 12 {
			continue // too narrow a terminal to show it
		}
		name := format.Ellipsis(s.name, left)
		pad := left - utf8.RuneCountInString(name)
		line(" => " + mark + name + strings.Repeat(" ", pad+1) + timer)
		if s.state == "" && !whole {
			from := max(0, len(s.tail)-max(0, min(tail, room)))
			for _, l := range s.tail[from:] {
				line(cut(" => => # "+l, cols))
				room--
			}
		}
	}
	// lines a shorter view leaves below it are cleared
	b.WriteString("\x1b[J")
	d.drawn = lines
	io.WriteString(d.w, b.String())
}

// interrupted forgets the lines drawn when the writer, shared with
// another live view (compose's), says that view wrote since: the cursor
// is below both, and the view starts afresh there.
func (d *Display) interrupted() {
	if w, ok := d.w.(interface{ Interrupted() bool }); ok && w.Interrupted() {
		d.drawn = 0
	}
}

// latest is the view's last n steps, the running ones among them
// whatever their place, in order.
func (d *Display) latest(n int) []*stepProgress {
	if len(d.steps) <= n {
		return d.steps
	}
	keep := map[*stepProgress]bool{}
	for _, s := range d.steps {
		if s.state == "" && len(keep) < n {
			keep[s] = true
		}
	}
	for i := len(d.steps) - 1; i >= 0 && len(keep) < n; i-- {
		keep[d.steps[i]] = true
	}
	var out []*stepProgress
	for _, s := range d.steps {
		if keep[s] {
			out = append(out, s)
		}
	}
	return out
}

func (d *Display) failed() bool {
	for _, s := range d.steps {
		if s.state == "error" {
			return true
		}
	}
	return false
}

// size is the terminal's columns and rows, or BuildKit's 80 and 10 when
// it cannot say.
func (d *Display) size() (cols, rows int) {
	if f, ok := d.w.(interface{ Fd() uintptr }); ok {
		if c, r, err := term.GetSize(int(f.Fd())); err == nil && c > 0 && r > 0 {
			return c, r
		}
	}
	return 80, 10
}

// cut is s cut to cols columns.
func cut(s string, cols int) string {
	if utf8.RuneCountInString(s) <= cols {
		return s
	}
	return string([]rune(s)[:cols])
}

// writer is where the step's process writes: each line is shown (plain:
// with the time since the step began) and kept for a failure's report.
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
	s := w.s
	d := s.p.d
	d.mu.Lock()
	defer d.mu.Unlock()
	stamped := fmt.Sprintf("%.3f %s", time.Since(s.begin).Seconds(), line)
	if len(s.output) < outputKept {
		s.output = append(s.output, stamped)
	}
	if !d.tty {
		fmt.Fprintf(d.w, "#%d %s\n", s.n, stamped)
		return
	}
	// the live view shows it at the next tick, as the terminal showed it
	// (BuildKit's view shows the output through a terminal of its own):
	// what follows the last carriage return, without control characters
	line = strings.TrimSuffix(line, "\r")
	if i := strings.LastIndexByte(line, '\r'); i >= 0 {
		line = line[i+1:]
	}
	s.tail = append(s.tail, printable(line))
	if len(s.tail) > tail {
		s.tail = s.tail[len(s.tail)-tail:]
	}
}

// printable is line without escape sequences and control characters,
// which would move the live view's cursor.
func printable(line string) string {
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == 0x1b && i+1 < len(line) && line[i+1] == '[':
			// CSI: parameters up to a final byte
			for i += 2; i < len(line) && (line[i] < 0x40 || line[i] > 0x7e); i++ {
			}
		case c == '\t':
			b.WriteString("    ")
		case c < 0x20 || c == 0x7f:
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
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

// locate learns, from the frontend's source map in def, which Dockerfile
// lines each step comes from.
func (p *progress) locate(def *pb.Definition, meta map[digest.Digest]*pb.OpMetadata, dockerfile []byte) {
	src := def.GetSource()
	if src == nil {
		return
	}
	p.dockerfile = strings.Split(strings.TrimSuffix(string(dockerfile), "\n"), "\n")
	p.lines = map[string][]lineRange{}
	for dgst, locs := range src.Locations {
		name := meta[digest.Digest(dgst)].GetDescription()["llb.customname"]
		if name == "" {
			continue
		}
		for _, l := range locs.GetLocations() {
			for _, r := range l.GetRanges() {
				p.lines[p.stepName(name)] = append(p.lines[p.stepName(name)], lineRange{int(r.GetStart().GetLine()), int(r.GetEnd().GetLine())})
			}
		}
	}
}

// excerpt is the Dockerfile around the lines step s comes from, marked
// as BuildKit marks them.
func (p *progress) excerpt(s *stepProgress) string {
	rs := p.lines[s.name]
	if len(rs) == 0 {
		return ""
	}
	first, last := rs[0].start, rs[0].end
	var b strings.Builder
	fmt.Fprintf(&b, "Dockerfile:%d\n--------------------\n", first)
	for i := max(1, first-2); i <= min(len(p.dockerfile), last+2); i++ {
		mark := "    "
		if i >= first && i <= last {
			mark = ">>> "
		}
		fmt.Fprintf(&b, "%4d | %s%s\n", i, mark, p.dockerfile[i-1])
	}
	b.WriteString("--------------------\n")
	return b.String()
}

// located is err with the Dockerfile line of the step that failed, when
// the frontend said where it comes from.
func (p *progress) located(err error) error {
	if err == nil || p.failed == nil || len(p.lines[p.failed.name]) == 0 {
		return err
	}
	return fmt.Errorf("%w (Dockerfile:%d)", err, p.lines[p.failed.name][0].start)
}
