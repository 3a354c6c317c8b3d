// Package runtime is the only package that imports runc's libcontainer. It
// creates, starts, execs into, signals, pauses, resumes, deletes and reports
// on containers, and it is the only layer that mounts a container's rootfs or
// enters a namespace: image and volumes describe mounts, runtime performs them.
//
// Empty until the containers issue (issue 4).
package runtime
