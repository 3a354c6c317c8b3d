package watch

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/fsnotify/fsnotify"
)

// Target carries out what the rules ask, on a service's running
// containers. Each call concerns one service; Run makes them one after
// another, never at once.
type Target interface {
	// Sync copies each change whose host path exists into the containers
	// at its container path (parents made as needed), and removes from
	// them those whose host path is gone.
	Sync(ctx context.Context, service string, changes []Change) error
	// Restart restarts the services' containers.
	Restart(ctx context.Context, services []string) error
	// Exec runs a sync+exec command in the service's containers.
	Exec(ctx context.Context, service string, hook types.ServiceHook) error
	// Rebuild builds the services' images again and recreates their
	// containers.
	Rebuild(ctx context.Context, services []string) error
}

// Options shape Run.
type Options struct {
	Rules  []Rule
	Target Target
	// Log hears what happens, a line at a time, in compose's words.
	Log func(string)
	// Quiet is how long the files must be left alone before the changes
	// gathered are acted on; 0 is compose's 500 ms.
	Quiet time.Duration
}

// Run does the rules' initial syncs, then watches until ctx ends. A
// failure to act on one batch of changes is logged and the watch goes
// on, as an editor's next save may mend it; a failure to watch at all is
// returned.
func Run(ctx context.Context, o Options) error {
	if o.Quiet == 0 {
		o.Quiet = 500 * time.Millisecond
	}
	if o.Log == nil {
		o.Log = func(string) {}
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watching: %w", err)
	}
	defer w.Close()
	for _, r := range o.Rules {
		if err := r.add(w, r.Path); err != nil {
			return fmt.Errorf("watching %s for service %q: %w", r.Path, r.Service, err)
		}
	}
	for _, r := range o.Rules {
		if !r.InitialSync || !r.syncs() {
			continue
		}
		changes, err := r.initial()
		if err != nil {
			return err
		}
		if err := o.Target.Sync(ctx, r.Service, changes); err != nil {
			return fmt.Errorf("initial sync of service %q: %w", r.Service, err)
		}
	}
	o.Log("Watch enabled")
	defer o.Log("Watch disabled")
	pending := map[string]bool{}
	var quiet <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			o.Log("Watch error: " + err.Error())
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Has(fsnotify.Create) {
				// a new directory is watched too, and what was made in it
				// before that counts as changed
				if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() {
					covered := false
					for _, r := range o.Rules {
						if r.covers(ev.Name) {
							r.add(w, ev.Name)
							covered = true
						}
					}
					if covered {
						filepath.WalkDir(ev.Name, func(p string, d fs.DirEntry, err error) error {
							if err == nil && !d.IsDir() {
								pending[p] = true
							}
							return nil
						})
					}
				}
			}
			if ev.Has(fsnotify.Chmod) && !ev.Has(fsnotify.Write) {
				continue // an atime or a mode; compose ignores these too
			}
			pending[ev.Name] = true
			quiet = time.After(o.Quiet)
		case <-quiet:
			quiet = nil
			batch := slices.Sorted(maps.Keys(pending))
			clear(pending)
			if err := act(ctx, o, batch); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				o.Log("Error handling changed files: " + err.Error())
			}
		}
	}
}

// add watches dir (the rule's path, or a directory made under it since),
// and every directory under it that the rule does not ignore: a
// node_modules or a .git would take thousands of inotify watches, of a
// limited supply, for nothing.
func (r Rule) add(w *fsnotify.Watcher, dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		// a file is watched through its directory: editors replace files
		// by renaming a new one over them, which a watch on the file
		// itself would lose
		return w.Add(filepath.Dir(dir))
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if p != r.Path && !r.covers(p) {
			return filepath.SkipDir
		}
		return w.Add(p)
	})
}

// act carries out what a batch of changed paths asks of the rules: per
// service, the syncs, then the restarts, then the sync+exec commands, as
// compose orders them.
func act(ctx context.Context, o Options, batch []string) error {
	syncs := map[string][]Change{}
	restart := map[string]bool{}
	rebuild := map[string]bool{}
	execs := map[string][]int{}
	for _, p := range batch {
		for i, r := range o.Rules {
			c, ok := r.Match(p)
			if !ok {
				continue
			}
			if r.syncs() && !slices.Contains(syncs[r.Service], c) {
				syncs[r.Service] = append(syncs[r.Service], c)
			}
			switch r.Action {
			case types.WatchActionRebuild:
				rebuild[r.Service] = true
			case types.WatchActionRestart, types.WatchActionSyncRestart:
				restart[r.Service] = true
			case types.WatchActionSyncExec:
				if !slices.Contains(execs[r.Service], i) {
					execs[r.Service] = append(execs[r.Service], i)
				}
			}
		}
	}
	if len(rebuild) > 0 {
		services := slices.Sorted(maps.Keys(rebuild))
		o.Log(fmt.Sprintf("Rebuilding service(s) %q after changes were detected...", services))
		if err := o.Target.Rebuild(ctx, services); err != nil {
			return fmt.Errorf("rebuilding %q: %w", services, err)
		}
		o.Log(fmt.Sprintf("service(s) %q successfully built", services))
	}
	for _, service := range slices.Sorted(maps.Keys(syncs)) {
		o.Log(fmt.Sprintf("Syncing service %q after %d changes were detected", service, len(syncs[service])))
		if err := o.Target.Sync(ctx, service, syncs[service]); err != nil {
			return fmt.Errorf("syncing service %q: %w", service, err)
		}
	}
	if len(restart) > 0 {
		services := slices.Sorted(maps.Keys(restart))
		if err := o.Target.Restart(ctx, services); err != nil {
			return fmt.Errorf("restarting %q: %w", services, err)
		}
		o.Log(fmt.Sprintf("service(s) %q restarted", services))
	}
	for _, service := range slices.Sorted(maps.Keys(execs)) {
		for _, i := range execs[service] {
			if err := o.Target.Exec(ctx, service, o.Rules[i].Exec); err != nil {
				return fmt.Errorf("service %q: running %q: %w", service, o.Rules[i].Exec.Command, err)
			}
		}
	}
	return nil
}
