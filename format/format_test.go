package format

import (
	"bytes"
	"testing"
)

type row struct{ Repository, Tag, ID string }

func TestTable(t *testing.T) {
	tbl := Table{Default: "{{.Repository}}\t{{.Tag}}\t{{.ID}}", Headers: map[string]string{"ID": "IMAGE ID"}}
	rows := []any{row{"busybox", "latest", "abc123"}, row{"localhost:5000/app", "1", "def456"}}
	tests := []struct{ format, want string }{
		{"", "REPOSITORY           TAG       IMAGE ID\nbusybox              latest    abc123\nlocalhost:5000/app   1         def456\n"},
		{"table {{.ID}}\\t{{.Tag}}", "IMAGE ID   TAG\nabc123     latest\ndef456     1\n"},
		{"{{.Repository}}:{{.Tag}}", "busybox:latest\nlocalhost:5000/app:1\n"},
		{"json", "{\"Repository\":\"busybox\",\"Tag\":\"latest\",\"ID\":\"abc123\"}\n{\"Repository\":\"localhost:5000/app\",\"Tag\":\"1\",\"ID\":\"def456\"}\n"},
		{"{{json .Tag}} {{upper .Repository}}", "\"latest\" BUSYBOX\n\"1\" LOCALHOST:5000/APP\n"},
	}
	for _, tc := range tests {
		var buf bytes.Buffer
		if err := tbl.Write(&buf, tc.format, rows); err != nil {
			t.Fatalf("%q: %v", tc.format, err)
		}
		if buf.String() != tc.want {
			t.Errorf("format %q:\n%q\nwant\n%q", tc.format, buf.String(), tc.want)
		}
	}
	if err := tbl.Write(&bytes.Buffer{}, "{{.Nope", rows); err == nil {
		t.Error("a broken template was accepted")
	}
}

// TestTableArray: compose's ls and images print json as one array, an
// empty one included.
func TestTableArray(t *testing.T) {
	tbl := Table{Default: "{{.ID}}", Array: true}
	for _, tc := range []struct {
		rows []any
		want string
	}{
		{[]any{row{"busybox", "latest", "abc123"}, row{"app", "1", "def456"}},
			"[{\"Repository\":\"busybox\",\"Tag\":\"latest\",\"ID\":\"abc123\"},{\"Repository\":\"app\",\"Tag\":\"1\",\"ID\":\"def456\"}]\n"},
		{nil, "[]\n"},
	} {
		var buf bytes.Buffer
		if err := tbl.Write(&buf, "json", tc.rows); err != nil || buf.String() != tc.want {
			t.Errorf("json of %v: %v, %q, want %q", tc.rows, err, buf.String(), tc.want)
		}
	}
}
