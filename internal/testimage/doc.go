// Package testimage builds container images for tests: layers from a list
// of tar entries, images from layers, and a small real base image from
// Debian's busybox-static.
package testimage
