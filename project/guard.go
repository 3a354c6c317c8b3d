package project

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	yaml4 "go.yaml.in/yaml/v4"
	"gopkg.in/yaml.v3"
)

// maxNodeVisits bounds compose-go's !reset/!override pass per document.
// compose-go's cycle check misses an anchor that merges itself (`&a {k:
// {<<: *a}}`), and its cost grows faster than the square of the visits: at
// its default of 100,000 one eight-line file took minutes and 24 GB. 20,000
// visits (a few hundred services) fail such a file in about 3 s; berth's own
// check below fails it at once for the files it is given.
const maxNodeVisits = 20_000

func boundVisits(o *loader.Options) { o.MaxNodeVisits = maxNodeVisits }

// checkAliases refuses what compose-go cannot survive: a compose file in which
// an alias refers to a node that contains it (such a document is infinite), or
// whose root is tagged !reset or !override. The check is linear in the file;
// a file that does not parse is left for compose-go to report.
func checkAliases(path string) error {
	if path == "-" {
		return nil // read by compose-go from stdin, bounded by maxNodeVisits
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil // compose-go reports the missing file in its own words
	}
	if err := checkSyntax(data); err != nil {
		return invalidf("%s: %v", path, err)
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil {
		return nil
	}
	// compose-go dereferences a nil document when the root itself is reset.
	if len(doc.Content) == 1 && (doc.Content[0].Tag == "!reset" || doc.Content[0].Tag == "!override") {
		return invalidf("%s: line %d: %s applies to keys inside the file, not to the whole file", path, doc.Content[0].Line, doc.Content[0].Tag)
	}
	ancestors := map[*yaml.Node]bool{}
	var walk func(n *yaml.Node) error
	walk = func(n *yaml.Node) error {
		if n.Kind == yaml.AliasNode {
			if ancestors[n.Alias] {
				return invalidf("%s: line %d: alias *%s refers to a node that contains it (&%s on line %d): the document would be infinite", path, n.Line, n.Value, n.Alias.Anchor, n.Alias.Line)
			}
			return nil
		}
		if n.Kind == yaml.MappingNode {
			// compose-go refuses it too, in words that name the wrong line
			seen := map[string]int{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if k.Kind != yaml.ScalarNode || k.Value == "<<" {
					continue
				}
				if line, ok := seen[k.Value]; ok {
					return invalidf("%s: line %d: mapping key %q already defined at line %d", path, k.Line, k.Value, line)
				}
				seen[k.Value] = k.Line
			}
		}
		ancestors[n] = true
		defer delete(ancestors, n)
		for _, c := range n.Content {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(&doc)
}

// checkSyntax parses every document of a compose file with compose-go's own
// YAML parser and returns its syntax error, if any, with the lines counted
// from 1. go-yaml v4 counts the lines of its scanner's errors from 1 but
// those of its parser's from 0 ("did not find expected key" named the line
// above the one at fault).
func checkSyntax(data []byte) error {
	dec := yaml4.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml4.Node
		err := dec.Decode(&n)
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		return parserLines(err)
	}
}

// parserLines is err with the line numbers of a go-yaml parser error made
// 1-based. The error's type is internal to go-yaml, so it is recognised by
// its name and read by its fields; any other error is returned as it is.
func parserLines(err error) error {
	v := reflect.ValueOf(err)
	if v.Kind() != reflect.Struct || v.Type().Name() != "ParserError" || !strings.HasPrefix(v.Type().PkgPath(), "go.yaml.in/yaml/") {
		return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	mark := func(name string) string {
		m := v.FieldByName(name)
		line, col := m.FieldByName("Line"), m.FieldByName("Column")
		if !line.IsValid() || !col.IsValid() {
			return ""
		}
		if col.Int() == 0 {
			return fmt.Sprintf("line %d", line.Int()+1)
		}
		return fmt.Sprintf("line %d, column %d", line.Int()+1, col.Int()+1)
	}
	problem, where := v.FieldByName("Message").String(), mark("Mark")
	if where == "" {
		return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if ctx := v.FieldByName("ContextMessage").String(); ctx != "" {
		if at := mark("ContextMark"); at != where {
			return fmt.Errorf("%s at %s: %s: %s", ctx, at, where, problem)
		}
		return fmt.Errorf("%s at %s: %s", ctx, where, problem)
	}
	return fmt.Errorf("%s: %s", where, problem)
}

// checkFiles runs checkAliases over the files compose-go is about to read.
func checkFiles(paths []string) error {
	for _, p := range paths {
		if err := checkAliases(p); err != nil {
			return err
		}
	}
	return nil
}

// safely runs a compose-go call and turns a panic into an error: compose-go
// parses user input, and a parser bug must cost the user a clear message, not
// a crash.
func safely[T any](files []string, call func() (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = invalidf("%s: the compose loader failed on this input: %v", strings.Join(files, ", "), r)
		}
	}()
	return call()
}
