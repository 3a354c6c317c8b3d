package kube_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/yaml"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/internal/fixture"
	"github.com/berth-dev/berth/kube"
	"github.com/berth-dev/berth/project"
)

// TestCorpus converts every compose file of the corpus that berth loads.
// Each either converts, every object round-tripping through YAML to the
// same typed object and carrying the project's labels, and its policies
// allowing what compose allows (policy_test.go's comparePolicies), or
// fails with a one-line error that names the service or the key.
func TestCorpus(t *testing.T) {
	root, paths := fixture.Corpus(t)
	loaded, converted, objects, decided := 0, 0, 0, 0
	for _, p := range paths {
		name, _ := filepath.Rel(root, p)
		t.Run(name, func(t *testing.T) {
			proj := loadCorpusFile(t, p)
			loaded++
			r, err := kube.Convert(proj.Project, kube.Options{})
			if err != nil {
				if !errors.Is(err, errclass.ErrInvalid) {
					t.Errorf("error is not of class invalid: %v", err)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error spans lines: %q", err)
				}
				if !strings.Contains(err.Error(), `service "`) && !strings.Contains(err.Error(), `key "`) {
					t.Errorf("error names no service or key: %v", err)
				}
				t.Logf("refused: %v", err)
				return
			}
			converted++
			for _, w := range r.Warnings {
				if strings.Contains(w, "\n") {
					t.Errorf("warning spans lines: %q", w)
				}
			}
			for _, o := range r.Objects {
				objects++
				checkObject(t, o, "corpus")
			}
			decided += comparePolicies(t, proj.Project, r)
		})
	}
	t.Logf("%d of %d corpus files loaded; %d converted to %d objects; %d connections decided by their policies", loaded, len(paths), converted, objects, decided)
	if converted < 20 {
		t.Errorf("only %d corpus files converted", converted)
	}
}

// checkObject asserts that o reads back from its YAML as the same object,
// with no field Kubernetes does not know, and carries the project's labels.
func checkObject(t *testing.T, o kube.Object, project string) {
	t.Helper()
	kind := o.GetObjectKind().GroupVersionKind().Kind
	b, err := kube.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	back := reflect.New(reflect.TypeOf(o).Elem()).Interface()
	if err := yaml.UnmarshalStrict(b, back); err != nil {
		t.Errorf("%s/%s does not read back: %v\n%s", kind, o.GetName(), err, b)
		return
	}
	if !equality.Semantic.DeepEqual(o, back) {
		t.Errorf("%s/%s reads back different:\n%s", kind, o.GetName(), b)
	}
	if strings.Contains(string(b), "\nstatus:") {
		t.Errorf("%s/%s YAML has a status, the cluster's to write:\n%s", kind, o.GetName(), b)
	}
	if !strings.HasPrefix(string(b), "apiVersion: ") || !strings.Contains(string(b), "\nkind: "+kind+"\n") {
		t.Errorf("%s/%s YAML lacks apiVersion or kind:\n%s", kind, o.GetName(), b)
	}
	l := o.GetLabels()
	if l[kube.LabelManagedBy] != "berth" || l[kube.LabelPartOf] != project || l[kube.LabelProject] != project {
		t.Errorf("%s/%s labels %v", kind, o.GetName(), l)
	}
}

// loadCorpusFile loads the corpus file at path, as berth run in its
// directory loads it, with none of the caller's COMPOSE_ variables; a
// file berth does not load skips t (TestCorpus counts them).
func loadCorpusFile(t *testing.T, path string) *project.Project {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "COMPOSE_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	t.Chdir(filepath.Dir(path))
	proj, err := project.Load(context.Background(), project.Options{Files: []string{filepath.Base(path)}, Name: "corpus"})
	if err != nil {
		t.Skipf("berth does not load it: %v", err)
	}
	return proj
}
