package project

import (
	"os"
	"strconv"
	"strings"
)

// Options say where a project comes from and how to read it. They are the
// global flags of `docker compose` (-f, -p, --project-directory, --env-file,
// --profile) plus the switches of `docker compose config` that change loading.
// The zero value loads like a plain `docker compose up`.
type Options struct {
	// Files are the compose files in override order; "-" reads standard input.
	// Empty means COMPOSE_FILE, else compose.yaml (and friends) in the working
	// directory or the nearest parent that has one.
	Files []string
	// Name is the project name from -p; it wins over COMPOSE_PROJECT_NAME, the
	// top-level name: key and the directory name, in that order.
	Name string
	// ProjectDir is --project-directory; empty means the first file's directory.
	ProjectDir string
	// EnvFiles are --env-file paths in order; empty means COMPOSE_ENV_FILES,
	// else .env in the project directory.
	EnvFiles []string
	// Profiles are --profile values; empty means COMPOSE_PROFILES.
	Profiles []string
	// Services restricts the project to these services and what they depend on.
	Services []string
	// All keeps networks, volumes, secrets and configs that no selected service uses.
	All bool

	// NoInterpolate, NoNormalize, NoResolvePaths and NoConsistency turn off the
	// loader stages of the same names, as the `config` flags do.
	NoInterpolate  bool
	NoNormalize    bool
	NoResolvePaths bool
	NoConsistency  bool
	// NoEnvResolution leaves env_file references unresolved in the model
	// instead of merging them into each service's environment.
	NoEnvResolution bool

	// ValidatedCache is a directory where Load remembers which inputs passed
	// the compose schema, so that it skips that check, most of a load's
	// time, while they are unchanged (see validated.go). Empty checks every
	// time.
	ValidatedCache string
}

// EnvList splits a comma-separated environment variable as docker compose does
// for COMPOSE_ENV_FILES and COMPOSE_PROFILES: empty items are dropped.
func EnvList(name string) []string {
	return strings.FieldsFunc(os.Getenv(name), func(c rune) bool { return c == ',' })
}

// ParallelLimit is the bound on concurrent work: flag when the user set it,
// else COMPOSE_PARALLEL_LIMIT, else unbounded (-1). Zero or less means unbounded.
func ParallelLimit(flag int, flagSet bool) (int, error) {
	if flagSet {
		return flag, nil
	}
	v, ok := os.LookupEnv("COMPOSE_PARALLEL_LIMIT")
	if !ok || v == "" {
		return flag, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, invalidf("COMPOSE_PARALLEL_LIMIT=%q: not a whole number", v)
	}
	return n, nil
}
