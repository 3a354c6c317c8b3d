package watch

import (
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/patternmatcher"

	"github.com/berth-dev/berth/errclass"
)

// ErrInvalid marks rules that cannot be watched.
var ErrInvalid = errclass.Sentinel(errclass.ErrInvalid, "invalid watch rule")

// Rule is one develop.watch entry of a service.
type Rule struct {
	Service string
	Action  types.WatchAction
	// Path is the host file or directory watched, absolute and clean.
	Path string
	// Target is where Path is in the container (sync actions).
	Target string
	// Exec is the command of sync+exec.
	Exec        types.ServiceHook
	InitialSync bool

	include, ignore *patternmatcher.PatternMatcher // include nil: all
}

// Change is a host path that changed, and where it is in the container
// ("" for actions that do not sync). The host path may be gone: then it
// is to be removed from the container.
type Change struct {
	HostPath, ContainerPath string
}

// always are ignored whatever the rules say: version control, and the
// files editors write beside the ones they save.
var always = []string{".git", "**/.git", "**/*~", "**/.*.swp", "**/.*.swx", "**/4913", "**/.#*", "**/*___jb_tmp___", "**/*___jb_old___"}

// Rules reads the develop.watch rules of p's services (those named, or
// all). It refuses rules berth cannot carry out, and a project none of
// whose services has any.
func Rules(p *types.Project, services ...string) ([]Rule, error) {
	var rules []Rule
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		s := p.Services[name]
		if len(services) > 0 && !slices.Contains(services, name) || s.Develop == nil {
			continue
		}
		for _, t := range s.Develop.Watch {
			r, err := rule(p, s, t)
			if err != nil {
				return nil, err
			}
			rules = append(rules, r)
		}
	}
	if len(rules) == 0 {
		return nil, errclass.New(ErrInvalid, "none of the selected services is configured for watch, consider setting a 'develop' section")
	}
	return rules, nil
}

func rule(p *types.Project, s types.ServiceConfig, t types.Trigger) (Rule, error) {
	bad := func(format string, args ...any) (Rule, error) {
		return Rule{}, errclass.New(ErrInvalid, "service %q: develop.watch: "+format, append([]any{s.Name}, args...)...)
	}
	if t.Path == "" {
		return bad("a rule needs a path")
	}
	r := Rule{Service: s.Name, Action: t.Action, Path: t.Path, Target: t.Target, Exec: t.Exec, InitialSync: t.InitialSync}
	if !filepath.IsAbs(r.Path) {
		r.Path = filepath.Join(p.WorkingDir, r.Path)
	}
	if real, err := filepath.EvalSymlinks(r.Path); err == nil {
		r.Path = real
	}
	r.Path = filepath.Clean(r.Path)
	switch t.Action {
	case types.WatchActionSync, types.WatchActionSyncRestart:
	case types.WatchActionSyncExec:
		if len(t.Exec.Command) == 0 {
			return bad("action %s needs an exec command", t.Action)
		}
	case types.WatchActionRestart:
	case types.WatchActionRebuild:
		if s.Build == nil {
			return bad("action rebuild needs a build: section, to build the image again")
		}
	default:
		return bad("unknown action %q", t.Action)
	}
	if r.syncs() && !path.IsAbs(r.Target) {
		return bad("action %s needs an absolute target in the container, not %q", t.Action, t.Target)
	}
	var err error
	if r.ignore, err = patternmatcher.New(append(slices.Clone(always), t.Ignore...)); err != nil {
		return bad("ignore: %v", err)
	}
	if len(t.Include) > 0 {
		if r.include, err = patternmatcher.New(t.Include); err != nil {
			return bad("include: %v", err)
		}
	}
	return r, nil
}

// syncs says whether the rule copies files into the container.
func (r Rule) syncs() bool {
	return r.Action == types.WatchActionSync || r.Action == types.WatchActionSyncRestart || r.Action == types.WatchActionSyncExec
}

// relative is hostPath relative to the rule's path, slash-separated,
// when it is under it and not ignored; "." for the path itself.
// Include patterns are not weighed here: a directory may hold included
// files whatever its own name.
func (r Rule) relative(hostPath string) (string, bool) {
	rel, err := filepath.Rel(r.Path, hostPath)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	rel = filepath.ToSlash(rel)
	if rel == "." {
		return rel, true
	}
	ignored, _ := r.ignore.MatchesOrParentMatches(rel)
	return rel, !ignored
}

// covers says whether hostPath is under the rule's path and not ignored.
func (r Rule) covers(hostPath string) bool {
	_, ok := r.relative(hostPath)
	return ok
}

// Match says whether a change at hostPath concerns the rule and, for the
// sync actions, where the path is in the container.
func (r Rule) Match(hostPath string) (Change, bool) {
	rel, ok := r.relative(hostPath)
	if !ok {
		return Change{}, false
	}
	if r.include != nil {
		name := rel
		if rel == "." {
			name = filepath.Base(r.Path) // the rule's path is a file
		}
		if included, _ := r.include.MatchesOrParentMatches(name); !included {
			return Change{}, false
		}
	}
	c := Change{HostPath: hostPath}
	if r.syncs() {
		c.ContainerPath = path.Join(r.Target, rel)
	}
	return c, true
}

// initial lists the files under the rule's path that an initial sync
// copies: those it matches, compose files and Dockerfiles left out.
func (r Rule) initial() ([]Change, error) {
	skip := slices.Concat([]string{"Dockerfile"}, cli.DefaultFileNames, cli.DefaultOverrideFileNames)
	var out []Change
	err := filepath.WalkDir(r.Path, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// an ignored directory is left whole; one that the include
			// patterns do not name may still hold files they do
			if !r.covers(p) {
				return filepath.SkipDir
			}
			return nil
		}
		if c, ok := r.Match(p); ok && !slices.Contains(skip, d.Name()) {
			out = append(out, c)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("initial sync of %s: %w", r.Path, err)
	}
	return out, nil
}
