// Package engine is the reconciler: it observes what runs for a project
// (containers, networks and volumes found by their com.docker.compose.*
// labels), plans what the project's files ask for (create, recreate, start,
// keep, remove, each with its reason), and applies the plan in dependency
// order with project.Graph.Walk.
//
// A service's containers are recreated exactly when project.ServiceHash
// changes, its image changes, or a dependency it shares a namespace with is
// recreated (project.Edge.SharesNamespace).
//
//   - names.go: compose's names and labels, and finding a project's
//     containers by them;
//   - convert.go: a service as container.CreateOptions;
//   - resources.go: the project's networks and volumes;
//   - up.go: Up, its Plan and Steps, depends_on conditions;
//   - down.go: Down, Stop, Start, Restart, Wait and Each, ordered by the
//     containers' depends_on labels, so that they need no compose file.
//
// The engine acts through container.Manager and netns.Store; it never
// touches the runtime itself.
package engine
