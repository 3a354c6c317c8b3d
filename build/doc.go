// Package build builds images from Dockerfiles.
package build
