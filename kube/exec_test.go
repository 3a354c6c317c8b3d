package kube

import (
	"errors"
	"slices"
	"testing"

	"github.com/berth-dev/berth/api/proc"
	"github.com/berth-dev/berth/errclass"
)

// TestExecCommand: what a pod runs for exec's -e and -w, which its exec
// does not take (integration/k8s's TestKubeExecOptions runs them).
func TestExecCommand(t *testing.T) {
	env := map[string]string{"HOME_VAR": "from berth"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, tc := range []struct {
		o    proc.ExecOptions
		want []string
	}{
		{proc.ExecOptions{Cmd: []string{"ls", "-l"}}, []string{"ls", "-l"}},
		{proc.ExecOptions{Cmd: []string{"ls"}, Env: []string{"A=1 2", "B=", "HOME_VAR", "UNSET"}},
			[]string{"env", "A=1 2", "B=", "HOME_VAR=from berth", "ls"}},
		// -e of a variable berth does not have: nothing to set
		{proc.ExecOptions{Cmd: []string{"ls"}, Env: []string{"UNSET"}}, []string{"ls"}},
		{proc.ExecOptions{Cmd: []string{"ls", "$HOME"}, WorkDir: "/a b"},
			[]string{"sh", "-c", chdir, "sh", "/a b", "ls", "$HOME"}},
		{proc.ExecOptions{Cmd: []string{"ls"}, WorkDir: "/w", Env: []string{"A=1"}},
			[]string{"sh", "-c", chdir, "sh", "/w", "env", "A=1", "ls"}},
	} {
		got, err := execCommand(tc.o, lookup)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("execCommand(%+v) = %q, %v; want %q", tc.o, got, err, tc.want)
		}
	}
	for _, o := range []proc.ExecOptions{
		{Cmd: []string{"ls"}, WorkDir: "rel"},
		{Cmd: []string{"A=2"}, Env: []string{"A=1"}},
		{Cmd: []string{"ls"}, Env: []string{"=1"}},
	} {
		if got, err := execCommand(o, lookup); !errors.Is(err, errclass.ErrInvalid) {
			t.Errorf("execCommand(%+v) = %q, %v; want an ErrInvalid", o, got, err)
		}
	}
}
