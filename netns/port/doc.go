// Package port is a published port as berth keeps it: asked for
// ([Mapping]) and bound ([Binding]). Package netns publishes them; this
// package holds only the data, so that container records (package record)
// can keep them without linking the network code.
package port
