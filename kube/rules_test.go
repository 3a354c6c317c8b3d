package kube_test

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/berth-dev/berth/kube"
)

var update = flag.Bool("update", false, "rewrite the mapping table of docs/kubernetes.md")

const (
	docPath    = "../docs/kubernetes.md"
	tableStart = "<!-- mapping table: generated from kube.Rules by `go test ./kube -run TestMappingDoc -update` -->\n"
	tableEnd   = "<!-- end of mapping table -->\n"
)

// TestMappingDoc keeps the table of docs/kubernetes.md the one kube.Rules
// makes.
func TestMappingDoc(t *testing.T) {
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok := strings.Cut(string(doc), tableStart)
	_, after, ok2 := strings.Cut(rest, tableEnd)
	if !ok || !ok2 {
		t.Fatalf("%s lacks the table's markers", docPath)
	}
	var table strings.Builder
	if err := kube.WriteMappingTable(&table); err != nil {
		t.Fatal(err)
	}
	want := before + tableStart + table.String() + tableEnd + after
	if want == string(doc) {
		return
	}
	if *update {
		if err := os.WriteFile(docPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s is stale: go test ./kube -run TestMappingDoc -update", docPath)
}
