package format

import (
	"strings"
	"testing"
)

// TestPorts: docker ps's PORTS column, exposed ports and ranges included.
func TestPorts(t *testing.T) {
	for _, tc := range []struct {
		ports []Port
		want  string
	}{
		{nil, ""},
		{[]Port{{IP: "0.0.0.0", PrivatePort: 80, PublicPort: 8080, Type: "tcp"}, {PrivatePort: 8000, Type: "tcp"}}, "8000/tcp, 0.0.0.0:8080->80/tcp"},
		{[]Port{{PrivatePort: 8001, Type: "tcp"}, {PrivatePort: 8000, Type: "tcp"}, {PrivatePort: 8002, Type: "tcp"}, {PrivatePort: 53, Type: "udp"}}, "53/udp, 8000-8002/tcp"},
		{[]Port{{IP: "0.0.0.0", PrivatePort: 7000, PublicPort: 7000, Type: "tcp"}, {IP: "0.0.0.0", PrivatePort: 7001, PublicPort: 7001, Type: "tcp"}}, "0.0.0.0:7000-7001->7000-7001/tcp"},
		{[]Port{{PrivatePort: 1, Type: "tcp"}, {PrivatePort: 3, Type: "tcp"}}, "1/tcp, 3/tcp"},
		{[]Port{{IP: "::", PrivatePort: 80, PublicPort: 8080, Type: "tcp"}}, "[::]:8080->80/tcp"},
	} {
		if got := Ports(tc.ports); got != tc.want {
			t.Errorf("Ports(%v) = %q, want %q", tc.ports, got, tc.want)
		}
	}
}

// TestQuotedCommand: an argument with a space keeps its quotes, as in
// docker ps, and the column is cut to 20 characters.
func TestQuotedCommand(t *testing.T) {
	args := []string{"-c", "echo hi; sleep 1"}
	if got, want := QuotedCommand("sh", args, true), `"sh -c 'echo hi; sleep 1'"`; got != want {
		t.Errorf("no-trunc: %s, want %s", got, want)
	}
	if got, want := QuotedCommand("sh", args, false), `"sh -c 'echo hi; sle…"`; got != want {
		t.Errorf("truncated: %s, want %s", got, want)
	}
	if got, want := QuotedCommand("say", []string{`"x"`}, true), `"say \"x\""`; got != want {
		t.Errorf("a quote inside: %s, want %s", got, want)
	}
}

func TestSize(t *testing.T) {
	if got := Size(0, 0); got != "0B" {
		t.Errorf("Size(0, 0) = %q, want 0B", got)
	}
	if got := Size(2, 21500000); got != "2B (virtual 21.5MB)" {
		t.Errorf("Size(2, 21.5MB) = %q", got)
	}
}

// TestLogPrefix: compose pads names to one more than the widest.
func TestLogPrefix(t *testing.T) {
	if got := LogPrefix("app-1", 5); got != "app-1  | " {
		t.Errorf("widest: %q", got)
	}
	if got := LogPrefix("db-1", 5); got != "db-1   | " {
		t.Errorf("shorter: %q", got)
	}
}

// TestComposeTop: one table for every container, SERVICE and # first,
// CMD last, as docker compose top prints it.
func TestComposeTop(t *testing.T) {
	titles := []string{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}
	var b strings.Builder
	err := ComposeTop(&b, []ContainerTop{
		{Service: "db", Replica: "1", Titles: titles, Processes: [][]string{{"root", "10", "1", "0", "12:00", "?", "00:00:00", "sleep 60"}}},
		{Service: "web", Replica: "2", Titles: titles, Processes: [][]string{{"root", "20", "1", "0", "12:00", "?", "00:00:00", "sh -c echo hi"}}},
	})
	// compose's tabwriter: cells at least 4 wide, 2 apart
	want := "SERVICE  #   UID   PID  PPID  C   STIME  TTY  TIME      CMD\n" +
		"db       1   root  10   1     0   12:00  ?    00:00:00  sleep 60\n" +
		"web      2   root  20   1     0   12:00  ?    00:00:00  sh -c echo hi\n"
	if err != nil || b.String() != want {
		t.Errorf("ComposeTop: %v\n%s\nwant\n%s", err, b.String(), want)
	}
	b.Reset()
	if ComposeTop(&b, nil); b.String() != "" {
		t.Errorf("no processes: %q", b.String())
	}
}
