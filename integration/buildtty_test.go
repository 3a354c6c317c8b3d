package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/registrytest"
	"github.com/berth-dev/berth/internal/testimage"
)

// openPty opens a pseudo-terminal of cols columns and rows rows: the
// master, where what a program writes to the terminal is read, and the
// terminal itself, to be the program's standard streams.
func openPty(t *testing.T, cols, rows int) (master, tty *os.File) {
	t.Helper()
	// non-blocking, for reads to have a deadline
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatalf("opening /dev/ptmx: %v", err)
	}
	master = os.NewFile(uintptr(m), "/dev/ptmx")
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil { // unlockpt
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetUint32(m, unix.TIOCGPTN) // ptsname
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	s, err := unix.Open("/dev/pts/"+strconv.Itoa(int(n)), unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("opening the terminal /dev/pts/%d: %v", n, err)
	}
	if err := unix.IoctlSetWinsize(s, unix.TIOCSWINSZ, &unix.Winsize{Col: uint16(cols), Row: uint16(rows)}); err != nil {
		t.Fatalf("setting the terminal's size: %v", err)
	}
	return master, os.NewFile(uintptr(s), "/dev/pts/"+strconv.Itoa(int(n)))
}

// onTerminal runs berth in dir with args, its standard output and error a
// terminal of cols×rows, as a user runs it, and returns the screen that
// showed what it wrote, its exit code, and every state the screen went
// through at the end of a redraw of the live view.
func onTerminal(t *testing.T, dir string, cols, rows int, args ...string) (*screen, int, []string) {
	t.Helper()
	master, tty := openPty(t, cols, rows)
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := berthCmd(ctx, t, berthBin, dir, []string{"TERM=xterm"}, args...)
	cmd.Stdin = strings.NewReader("")
	cmd.Stdout, cmd.Stderr = tty, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close() // berth holds it now: the master reads EIO once berth is gone
	sc := newScreen(cols, rows)
	var readErr error
	read := make(chan struct{})
	go func() {
		defer close(read)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			sc.write(buf[:n])
			if err != nil {
				if !errors.Is(err, syscall.EIO) {
					readErr = err
				}
				return
			}
		}
	}()
	err := cmd.Wait()
	// what berth wrote is read to its end, unless a process it left
	// behind holds the terminal still
	master.SetReadDeadline(time.Now().Add(10 * time.Second))
	<-read
	if readErr != nil {
		t.Errorf("reading the terminal after berth ended (does a process it started hold it?): %v", readErr)
	}
	if ctx.Err() != nil {
		t.Fatalf("berth %s did not end within %v:\n%s", strings.Join(args, " "), commandTimeout, sc.transcript())
	}
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("running berth: %v", err)
	}
	for _, seq := range sc.unknown {
		t.Errorf("berth wrote a control sequence the test's terminal does not know: %q", seq)
	}
	return sc, code, sc.states
}

// screen is a terminal as xterm keeps it, for what berth shows on it: the
// lines that scrolled off the top, then rows rows of cols columns, with
// the few control sequences a live display uses (cursor up, down and to a
// column, erase in line and display, colours ignored). A line longer than
// the terminal is wide wraps; the cursor cannot go up into what scrolled
// off.
type screen struct {
	cols, rows int
	lines      [][]rune     // scrolled off, then the screen
	wrapped    map[int]bool // lines that continue the one before, wrapped
	top        int          // the screen's first line in lines
	y, x       int          // the cursor: y in lines
	raw        strings.Builder
	unknown    []string
	// states are the screen as each erase below the cursor left it: the
	// live view ends every redraw with one. A read of the terminal can
	// end in the middle of a redraw (the kernel passes a write on in
	// chunks), so the screen after a read may be half of two views.
	states  []string
	pending []byte // an unfinished sequence or character
}

func newScreen(cols, rows int) *screen {
	return &screen{cols: cols, rows: rows, lines: [][]rune{nil}, wrapped: map[int]bool{}}
}

var csi = regexp.MustCompile(`^\x1b\[([?]?)([0-9;]*)([@-~])`)

func (s *screen) write(b []byte) {
	s.raw.Write(b)
	b = append(s.pending, b...)
	s.pending = nil
	for len(b) > 0 {
		switch c := b[0]; {
		case c == 0x1b:
			m := csi.FindSubmatch(b)
			if m == nil {
				if len(b) < 16 && !strings.ContainsAny(string(b[1:]), "\x1b\n") {
					s.pending = b // the rest comes in the next read
					return
				}
				s.unknown = append(s.unknown, string(b[:min(len(b), 8)]))
				b = b[1:]
				continue
			}
			s.control(string(m[1]), string(m[2]), m[3][0], string(m[0]))
			b = b[len(m[0]):]
		case c == '\r':
			s.x = 0
			b = b[1:]
		case c == '\n':
			s.lineFeed()
			b = b[1:]
		case c == '\t':
			s.x = min(s.cols-1, (s.x/8+1)*8)
			b = b[1:]
		case c < 0x20 || c == 0x7f:
			s.unknown = append(s.unknown, string(c))
			b = b[1:]
		default:
			if !utf8.FullRune(b) {
				s.pending = b
				return
			}
			r, n := utf8.DecodeRune(b)
			s.put(r)
			b = b[n:]
		}
	}
}

func (s *screen) lineFeed() {
	s.y++
	if s.y == len(s.lines) {
		s.lines = append(s.lines, nil)
	}
	if s.y-s.top >= s.rows {
		s.top = s.y - s.rows + 1
	}
}

func (s *screen) put(r rune) {
	if s.x >= s.cols { // the last column was written: the line wraps
		s.x = 0
		s.lineFeed()
		s.wrapped[s.y] = true
	}
	line := s.lines[s.y]
	for len(line) <= s.x {
		line = append(line, ' ')
	}
	line[s.x] = r
	s.lines[s.y] = line
	s.x++
}

func (s *screen) control(private, params string, final byte, seq string) {
	n := 1
	if v, err := strconv.Atoi(params); err == nil && v > 0 {
		n = v
	}
	switch {
	case private == "?" && (params == "25" || params == "7") && (final == 'h' || final == 'l'):
		// the cursor shown or hidden, autowrap: nothing to see
	case private != "":
		s.unknown = append(s.unknown, seq)
	case final == 'm': // colours
	case final == 'A':
		s.y = max(s.top, s.y-n)
	case final == 'B':
		s.y = min(s.top+s.rows-1, s.y+n)
		for len(s.lines) <= s.y {
			s.lines = append(s.lines, nil)
		}
	case final == 'G':
		s.x = min(n, s.cols) - 1
	case final == 'K' && (params == "" || params == "0"):
		s.lines[s.y] = s.lines[s.y][:min(s.x, len(s.lines[s.y]))]
	case final == 'K' && params == "2":
		s.lines[s.y] = nil
		delete(s.wrapped, s.y)
	case final == 'J' && (params == "" || params == "0"):
		s.lines[s.y] = s.lines[s.y][:min(s.x, len(s.lines[s.y]))]
		for i := s.y + 1; i < len(s.lines); i++ {
			s.lines[i] = nil
			delete(s.wrapped, i)
		}
		s.states = append(s.states, s.view())
	default:
		s.unknown = append(s.unknown, seq)
	}
}

// transcript is every line the terminal shows or scrolled off, as a user
// scrolling back reads it once berth is done; a line wrapped at the
// terminal's width is one line, as a copy from the terminal gives it.
func (s *screen) transcript() string {
	var out []string
	for i, l := range s.lines {
		if s.wrapped[i] && len(out) > 0 {
			out[len(out)-1] += string(l)
			continue
		}
		out = append(out, string(l))
	}
	for i := range out {
		out[i] = strings.TrimRight(out[i], " ")
	}
	return strings.TrimRight(strings.Join(out, "\n"), "\n") + "\n"
}

// view is what the screen shows now.
func (s *screen) view() string {
	var out []string
	for _, l := range s.lines[s.top:] {
		out = append(out, strings.TrimRight(string(l), " "))
	}
	return strings.Join(out, "\n")
}

var (
	ttyHeader = regexp.MustCompile(`^\[\+\] Building \d+\.\ds \((\d+)/(\d+)\)( FINISHED)?$`)
	ttyStep   = regexp.MustCompile(`^ => (CACHED |ERROR )?(\S.*?) +(\d+\.\d)s$`)
	cursorUp  = regexp.MustCompile(`\x1b\[\d*A`)
)

// ttyView is a live view as the transcript shows it: its header's counts
// and its steps, each with its mark (CACHED, ERROR or none), in order.
type ttyView struct {
	done, total int
	finished    bool     // the header says FINISHED
	steps       []string // "MARK NAME"
}

// ttyViews reads the live views in a transcript, and the lines around
// them; a line that is neither a view's nor expected (other says which
// are) fails the test: it is what is left of a view that did not redraw
// in place.
func ttyViews(t *testing.T, sc *screen, other func(line string) bool) []ttyView {
	t.Helper()
	var views []ttyView
	var bad []string
	transcript := sc.transcript()
	for _, line := range strings.Split(strings.TrimSuffix(transcript, "\n"), "\n") {
		if (ttyHeader.MatchString(line) || ttyStep.MatchString(line)) && utf8.RuneCountInString(line) > sc.cols {
			bad = append(bad, fmt.Sprintf("wider than the terminal's %d columns: %q", sc.cols, line))
		}
		if m := ttyHeader.FindStringSubmatch(line); m != nil {
			v := ttyView{finished: m[3] != ""}
			v.done, _ = strconv.Atoi(m[1])
			v.total, _ = strconv.Atoi(m[2])
			views = append(views, v)
			continue
		}
		if m := ttyStep.FindStringSubmatch(line); m != nil && len(views) > 0 {
			v := &views[len(views)-1]
			v.steps = append(v.steps, m[1]+m[2])
			continue
		}
		if !other(line) {
			bad = append(bad, fmt.Sprintf("no view's, nor expected: %q", line))
		}
	}
	if len(bad) > 0 {
		t.Errorf("the terminal shows %d lines that are not what it should show, among them:\n%s\nthe terminal:\n%s", len(bad), strings.Join(bad[:min(len(bad), 5)], "\n"), transcript)
	}
	return views
}

// shownAs says whether a step's line shows name: whole, or cut to the
// terminal's width with an ellipsis.
func shownAs(shown, name string) bool {
	if cut, ok := strings.CutSuffix(shown, "…"); ok {
		return len(cut) >= 30 && strings.HasPrefix(name, cut)
	}
	return shown == name
}

const ttyDockerfile = `FROM bb:1
COPY greeting.txt /greeting.txt
RUN for i in 1 2 3 4 5 6 7 8 9 10; do echo "output line $i of a step with a long name to fill the view"; sleep 0.2; done
RUN printf 'fetching 10%%\rfetching 100%%\n\033[1mbold\033[0m text\n'; sleep 1
`

// TestBuildTTY: berth image build --progress tty on a terminal of 80
// columns and 24 rows shows BuildKit's live view, redrawn in place with
// the cursor moved up over it: a header with the steps done, a line per
// step, no longer than the terminal is wide, with its time, and a running
// step's last lines of output under it; at the end, one view of every
// step done. An unchanged rebuild shows every step after FROM CACHED. A
// failing step is shown ERROR, and its whole output and its Dockerfile
// line follow the view.
func TestBuildTTY(t *testing.T) {
	root, _ := busyboxRoot(t)
	dir := project(t, map[string]string{"Dockerfile": ttyDockerfile, "greeting.txt": "hello\n"})
	build := func(args ...string) (*screen, int, []string) {
		t.Helper()
		return onTerminal(t, dir, 80, 24, append([]string{"--root", root, "image", "build", "--progress", "tty"}, args...)...)
	}
	steps := []string{
		"[1/4] FROM docker.io/library/bb:1",
		"[2/4] COPY greeting.txt /greeting.txt",
		"[3/4] RUN for i in 1 2 3 4 5 6 7 8 9 10; do echo \"output line $i of a step with a long name to fill the view\"; sleep 0.2; done",
		`[4/4] RUN printf 'fetching 10%%\rfetching 100%%\n\033[1mbold\033[0m text\n'; sleep 1`,
		"exporting to image",
	}
	sc, code, states := build("-t", "tty:1", ".")
	tr := sc.transcript()
	if code != 0 {
		t.Fatalf("image build: exit %d\n%s", code, tr)
	}
	if !cursorUp.MatchString(sc.raw.String()) {
		t.Errorf("the view is not redrawn in place (no cursor up):\n%q", sc.raw.String())
	}
	views := ttyViews(t, sc, func(string) bool { return false })
	if len(views) != 1 {
		t.Fatalf("%d views on the terminal, want 1:\n%s", len(views), tr)
	}
	if v := views[0]; v.done != len(steps) || v.total != len(steps) || len(v.steps) != len(steps) || !v.finished {
		t.Errorf("the final view: %d/%d steps done (finished: %v), %d shown, want %d:\n%s", v.done, v.total, v.finished, len(v.steps), len(steps), tr)
	} else {
		for i, want := range steps {
			if !shownAs(v.steps[i], want) {
				t.Errorf("step %d of the final view is %q, want %q", i+1, v.steps[i], want)
			}
		}
	}
	// while the RUN step ran, its last six lines of output were under it,
	// as it printed them
	tail := regexp.MustCompile(`(?m)^ => \[3/4\] RUN .*\n(( => => # .*\n)*) => => # output line (\d+) of a step with a long name to fill the view$`)
	seen := false
	for _, st := range states {
		m := tail.FindStringSubmatch(st)
		if m == nil || strings.Contains(st, m[0]+"\n => => # ") {
			continue // none, or not the last line shown
		}
		// from the sixth line on, the five before it above it
		if last, _ := strconv.Atoi(m[3]); last >= 6 {
			seen = true
			var want strings.Builder
			for i := last - 5; i < last; i++ {
				fmt.Fprintf(&want, " => => # output line %d of a step with a long name to fill the view\n", i)
			}
			if m[1] != want.String() {
				t.Errorf("the running step shows, above its last line of output:\n%s\nwant:\n%s", m[1], want.String())
			}
		}
	}
	if !seen {
		t.Errorf("no state of the screen showed the running step's output under it; the states were:\n%s", strings.Join(states, "\n----\n"))
	}
	// the output as a terminal shows it: a line rewritten after a carriage
	// return is its last state, and no escape sequence moves the view
	seen = false
	for _, st := range states {
		seen = seen || strings.Contains(st, "\n => => # fetching 100%\n => => # bold text\n")
	}
	if !seen {
		t.Errorf("no state of the screen showed the last step's output as a terminal shows it; the states were:\n%s", strings.Join(states, "\n----\n"))
	}

	// unchanged: every step CACHED
	sc, code, _ = build("-t", "tty:1", ".")
	tr = sc.transcript()
	views = ttyViews(t, sc, func(string) bool { return false })
	if code != 0 || len(views) != 1 || len(views[0].steps) != len(steps) {
		t.Fatalf("rebuild: exit %d, %d views:\n%s", code, len(views), tr)
	}
	for i, want := range steps {
		if cached := shownAs(views[0].steps[i], "CACHED "+want); cached != (i == 1 || i == 2 || i == 3) {
			t.Errorf("rebuild: step %d is %q", i+1, views[0].steps[i])
		}
	}
	if v := views[0]; v.done != v.total || !v.finished {
		t.Errorf("rebuild: the final view shows %d/%d steps done (finished: %v):\n%s", v.done, v.total, v.finished, tr)
	}

	// more steps than the terminal has rows: while they run, the view
	// shows the latest, and at the end all of them, once each
	var tall strings.Builder
	tall.WriteString("FROM bb:1\n")
	for i := range 9 {
		fmt.Fprintf(&tall, "RUN echo step %d > /step%d\n", i+1, i+1)
	}
	os.WriteFile(filepath.Join(dir, "Dockerfile.tall"), []byte(tall.String()), 0o644)
	sc, code, _ = onTerminal(t, dir, 80, 8, "--root", root, "image", "build", "--progress", "tty", "-f", "Dockerfile.tall", ".")
	tr = sc.transcript()
	views = ttyViews(t, sc, func(string) bool { return false })
	if code != 0 || len(views) != 1 || len(views[0].steps) != 11 || !views[0].finished {
		t.Errorf("a build of 11 steps on 8 rows: exit %d, %d views:\n%s", code, len(views), tr)
	} else {
		for i, s := range views[0].steps[1:10] {
			if want := fmt.Sprintf("[%2d/10] RUN echo step %d > /step%d", i+2, i+1, i+1); s != want {
				t.Errorf("step %d of the tall build is %q, want %q", i+2, s, want)
			}
		}
	}

	// a failing step
	os.WriteFile(filepath.Join(dir, "Dockerfile.fail"), []byte("FROM bb:1\nRUN echo about to fail; echo second line; exit 3\nCMD [\"true\"]\n"), 0o644)
	sc, code, _ = build("-f", "Dockerfile.fail", ".")
	tr = sc.transcript()
	// the failing RUN's own code, as build.ExitError carries it
	if code != 3 {
		t.Errorf("a failing build: exit %d, want 3", code)
	}
	report := []string{
		"------",
		" > [2/2] RUN echo about to fail; echo second line; exit 3:",
		"<time> about to fail",
		"<time> second line",
		"------",
		"Dockerfile:2",
		"--------------------",
		"   1 |     FROM bb:1",
		"   2 | >>> RUN echo about to fail; echo second line; exit 3",
		"   3 |     CMD [\"true\"]",
		"--------------------",
		`berth: [2/2] RUN echo about to fail; echo second line; exit 3: process "/bin/sh -c echo about to fail; echo second line; exit 3" did not complete successfully: exit code: 3 (Dockerfile:2)`,
	}
	stamp := regexp.MustCompile(`^\d+\.\d{3} `)
	var rest []string
	views = ttyViews(t, sc, func(line string) bool {
		rest = append(rest, stamp.ReplaceAllString(line, "<time> "))
		return true
	})
	if strings.Join(rest, "\n") != strings.Join(report, "\n") {
		t.Errorf("below the view, the failure's report is\n%s\nwant\n%s", strings.Join(rest, "\n"), strings.Join(report, "\n"))
	}
	if len(views) != 1 || views[0].finished || len(views[0].steps) != 2 || views[0].steps[1] != "ERROR [2/2] RUN echo about to fail; echo second line; exit 3" {
		t.Errorf("a failing build's view:\n%s", tr)
	}
}

// TestComposeBuildTTY: berth build, whose progress is auto, picks the live
// view when standard error is a terminal, and shares the terminal with
// compose's own view (Service NAME  Built): on a terminal of 80 columns
// and 14 rows, fewer than the two services' steps, each service's build
// is one view of its steps, all done, and compose's lines say both were
// built; nothing is left half-redrawn. up --build shows the same, then
// compose's view of what it made, all of it below the builds' views.
func TestComposeBuildTTY(t *testing.T) {
	dir, root, _ := composeRoot(t, `name: btty
services:
  front:
    build: ./front
    command: ["sleep", "1000"]
    init: true
  back:
    build: ./back
    command: ["sleep", "1000"]
    init: true
`)
	for _, s := range []string{"front", "back"} {
		os.MkdirAll(filepath.Join(dir, s), 0o755)
		os.WriteFile(filepath.Join(dir, s, "Dockerfile"), []byte(fmt.Sprintf(`FROM bb:1
RUN echo %[1]s one; sleep 0.3
RUN echo %[1]s two
RUN echo %[1]s three
RUN echo %[1]s four; sleep 0.3
`, s)), 0o644)
	}
	sc, code, _ := onTerminal(t, dir, 80, 14, "--root", root, "build")
	tr := sc.transcript()
	if code != 0 {
		t.Fatalf("build: exit %d\n%s", code, tr)
	}
	compose := regexp.MustCompile(`^(\[\+\] Running \d+/\d+| [✔⠿] Service (front|back) +Built)$`)
	var composeLines []string
	views := ttyViews(t, sc, func(line string) bool {
		composeLines = append(composeLines, line)
		return compose.MatchString(line)
	})
	var steps []string
	for _, v := range views {
		if v.done != v.total || v.total != len(v.steps) || !v.finished {
			t.Errorf("a view shows %d/%d steps done (finished: %v), %d steps:\n%s", v.done, v.total, v.finished, len(v.steps), tr)
		}
		steps = append(steps, v.steps...)
	}
	var want []string
	for _, s := range []string{"back", "front"} { // in the project's order
		want = append(want, "["+s+" 1/5] FROM docker.io/library/bb:1")
		for i, n := range []string{"one; sleep 0.3", "two", "three", "four; sleep 0.3"} {
			want = append(want, fmt.Sprintf("[%s %d/5] RUN echo %s %s", s, i+2, s, n))
		}
		want = append(want, "["+s+"] exporting to image")
	}
	if strings.Join(steps, "\n") != strings.Join(want, "\n") {
		t.Errorf("the views' steps:\n%s\nwant each once, in order:\n%s\nthe terminal:\n%s", strings.Join(steps, "\n"), strings.Join(want, "\n"), tr)
	}
	if last := strings.Join(composeLines[max(0, len(composeLines)-3):], "\n"); last != "[+] Running 2/2\n ✔ Service back   Built\n ✔ Service front  Built" {
		t.Errorf("compose's view at the end:\n%s\nthe terminal:\n%s", last, tr)
	}

	// --progress plain: the builds' plain lines, compose's view drawn
	// below them each time, never over them
	sc, code, _ = onTerminal(t, dir, 80, 14, "--root", root, "build", "--progress", "plain")
	tr = sc.transcript()
	for _, want := range []string{"naming to docker.io/library/btty-back:latest\n#6 DONE ", "naming to docker.io/library/btty-front:latest\n#12 DONE ", "\n[+] Running 2/2\n ✔ Service back   Built\n ✔ Service front  Built\n"} {
		if code != 0 || !strings.Contains(tr, want) {
			t.Errorf("build --progress plain: exit %d, the terminal lacks %q:\n%s", code, want, tr)
		}
	}

	// up --build: both built again from the cache, then compose's view of
	// the network and containers made, below the builds' views
	sc, code, _ = onTerminal(t, dir, 80, 14, "--root", root, "up", "-d", "--build")
	tr = sc.transcript()
	if code != 0 {
		t.Fatalf("up --build: exit %d\n%s", code, tr)
	}
	composeLines = nil
	up := regexp.MustCompile(`^(\[\+\] Running \d+/\d+| [✔⠿] (Service|Network|Container) \S+ +\S.*)$`)
	views = ttyViews(t, sc, func(line string) bool {
		composeLines = append(composeLines, line)
		return up.MatchString(line)
	})
	if len(views) != 2 {
		t.Errorf("up --build: %d views of builds, want 2:\n%s", len(views), tr)
	}
	for _, v := range views {
		if v.done != v.total || v.total != len(v.steps) || !v.finished || len(v.steps) != 6 {
			t.Errorf("up --build: a view shows %d/%d steps done (finished: %v), %d steps:\n%s", v.done, v.total, v.finished, len(v.steps), tr)
		}
	}
	end := strings.Join(composeLines, "\n")
	for _, want := range []string{" ✔ Container btty-back-1   Started", " ✔ Container btty-front-1  Started", " ✔ Service front           Built"} {
		if !strings.Contains(end, want) {
			t.Errorf("up --build: compose's view lacks %q:\n%s", want, tr)
		}
	}
}

// TestBuildTTYPull: a base image pulled during a build on a terminal
// shows its layers' progress, as docker pull's lines above the live view,
// which stays whole below them.
func TestBuildTTYPull(t *testing.T) {
	requireRoot(t)
	registry := registrytest.Start(t, nil)
	base := registry + "/tty/busybox:1"
	r, err := name.ParseReference(base, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, testimage.Busybox(t)); err != nil {
		t.Fatal(err)
	}
	dir := project(t, map[string]string{"Dockerfile": "FROM " + base + "\nRUN echo pulled > /pulled\n"})
	root := t.TempDir()
	sc, code, _ := onTerminal(t, dir, 80, 24, "--root", root, "image", "build", "--progress", "tty", "-t", "pulled:1", ".")
	tr := sc.transcript()
	if code != 0 {
		t.Fatalf("build: exit %d\n%s", code, tr)
	}
	// docker pull's lines, above the view
	pull := regexp.MustCompile(`^(1: Pulling from tty/busybox|[0-9a-f]{12}: [A-Z].*|Digest: sha256:[0-9a-f]{64}|Status: .*)$`)
	var pulled []string
	views := ttyViews(t, sc, func(line string) bool {
		pulled = append(pulled, line)
		return pull.MatchString(line)
	})
	if len(views) != 1 || !views[0].finished || len(views[0].steps) != 4 || !strings.HasPrefix(views[0].steps[1], "[1/2] FROM "+base) {
		t.Errorf("%d views:\n%s", len(views), tr)
	}
	if len(pulled) == 0 || !strings.Contains(tr, "Pull complete\n") || strings.Index(tr, "Pull complete\n") > strings.Index(tr, "[+] Building") {
		t.Errorf("the pull's progress is not shown:\n%s", tr)
	}
}
