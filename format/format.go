package format

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"text/template"
)

// Funcs are the template functions Docker's CLI offers.
var Funcs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"join":  strings.Join,
	"split": strings.Split,
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"title": func(s string) string {
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
	"truncate": func(s string, n int) string {
		if len(s) > n {
			return s[:n]
		}
		return s
	},
	"println": fmt.Sprintln,
}

// Parse compiles a --format template with Docker's functions.
func Parse(text string) (*template.Template, error) {
	t, err := template.New("format").Funcs(Funcs).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("template parsing error: %w", err)
	}
	return t, nil
}

// Table is tabular output: rows are values whose fields a template names.
type Table struct {
	// Default is the row template of plain `table` output.
	Default string
	// Headers maps a field name (Repository) to its column title (REPOSITORY).
	Headers map[string]string
	// Array makes "json" one JSON array of the rows, as docker compose's
	// ls and images print it, rather than Docker's object per line.
	Array bool
}

// Write renders rows for format: "" or "table" (the default columns),
// "table TEMPLATE" (those columns, with titles), "json" (one object per
// line), or a bare TEMPLATE (no titles).
func (t Table) Write(w io.Writer, format string, rows []any) error {
	format = strings.TrimSpace(format)
	switch {
	case format == "json":
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		if t.Array {
			if rows == nil {
				rows = []any{}
			}
			return enc.Encode(rows)
		}
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	case format == "" || format == "table":
		return t.table(w, t.Default, rows)
	case strings.HasPrefix(format, "table "):
		return t.table(w, strings.TrimPrefix(format, "table "), rows)
	}
	tpl, err := Parse(unescape(format))
	if err != nil {
		return err
	}
	for _, r := range rows {
		if err := tpl.Execute(w, r); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	return nil
}

func (t Table) table(w io.Writer, row string, rows []any) error {
	row = unescape(row)
	tpl, err := Parse(row)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
	fmt.Fprintln(tw, t.header(row))
	for _, r := range rows {
		if err := tpl.Execute(tw, r); err != nil {
			return err
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// header turns a row template into its titles: {{.Repository}} becomes
// REPOSITORY, literal text stays.
func (t Table) header(row string) string {
	var b strings.Builder
	for {
		i := strings.Index(row, "{{")
		if i < 0 {
			b.WriteString(row)
			return b.String()
		}
		b.WriteString(row[:i])
		j := strings.Index(row[i:], "}}")
		if j < 0 {
			b.WriteString(row[i:])
			return b.String()
		}
		field := strings.TrimSpace(row[i+2 : i+j])
		name := strings.TrimPrefix(field, ".")
		if title, ok := t.Headers[name]; ok {
			b.WriteString(title)
		} else {
			b.WriteString(strings.ToUpper(name))
		}
		row = row[i+j+2:]
	}
}

// unescape lets a shell-quoted '\t' in a --format mean a tab, as in Docker.
func unescape(s string) string { return strings.ReplaceAll(s, `\t`, "\t") }
