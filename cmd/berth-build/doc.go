// Command berth-build reads Dockerfiles for berth: it runs BuildKit's
// Dockerfile frontend (package build/frontend) on the request berth
// writes on its stdin and writes the LLB definition and image config on
// its stdout, asking berth there for each base image's config (package
// build/frontend/wire). A program of its own so that berth does not link
// the frontend and its dependencies (grpc, OpenTelemetry, x/crypto/ssh),
// whose initialisation every berth command would pay. berth runs it from
// beside itself; it takes no arguments.
package main
