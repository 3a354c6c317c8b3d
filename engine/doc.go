// Package engine is the reconciler: it observes what runs for a project
// (containers, networks and volumes found by their com.docker.compose.*
// labels), plans what the project's files ask for (create, recreate, start,
// stop, remove, scale, each with its reason), and applies the plan in
// dependency order with project.Graph.Walk.
//
// A service's containers are recreated exactly when project.ServiceHash
// changes, its image changes, or a dependency it shares a namespace with is
// recreated (project.Edge.SharesNamespace).
//
// Empty until the compose lifecycle issue (issue 7).
package engine
