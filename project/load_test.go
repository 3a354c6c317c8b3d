package project

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/fixture"
)

// files writes name -> content under a new temporary directory and returns it.
func files(t *testing.T, fs map[string]string) string { return fixture.Dir(t, fs) }

// cleanEnv unsets the variables that steer loading, so the host's
// environment cannot change a test's outcome.
func cleanEnv(t *testing.T) {
	for _, k := range []string{"COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES", "COMPOSE_ENV_FILES", "COMPOSE_PATH_SEPARATOR", "COMPOSE_PARALLEL_LIMIT", "TAG", "PORT", "WHO"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

func load(t *testing.T, dir string, o Options) *Project {
	t.Helper()
	t.Chdir(dir)
	p, err := Load(context.Background(), o)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return p
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		env   map[string]string
		opts  Options
		cwd   string // relative to the temporary directory
		check func(t *testing.T, p *Project)
	}{{
		name: "default file and its override",
		files: map[string]string{
			"compose.yaml":          "services:\n  web:\n    image: nginx\n    environment: [A=1]\n",
			"compose.override.yaml": "services:\n  web:\n    environment: [B=2]\n",
		},
		check: func(t *testing.T, p *Project) {
			env := p.Services["web"].Environment
			if *env["A"] != "1" || *env["B"] != "2" {
				t.Errorf("environment = %v, want A=1 and B=2 from the override", env)
			}
		},
	}, {
		name:  "found in a parent directory",
		files: map[string]string{"docker-compose.yml": "services:\n  web:\n    image: nginx\n", "sub/deeper/x": ""},
		cwd:   "sub/deeper",
		check: func(t *testing.T, p *Project) {
			if _, ok := p.Services["web"]; !ok {
				t.Errorf("services = %v, want web from the parent's docker-compose.yml", p.ServiceNames())
			}
		},
	}, {
		name: "-f in order, later files win",
		files: map[string]string{
			"a.yaml": "services:\n  web:\n    image: one\n",
			"b.yaml": "services:\n  web:\n    image: two\n",
		},
		opts: Options{Files: []string{"a.yaml", "b.yaml"}},
		check: func(t *testing.T, p *Project) {
			if got := p.Services["web"].Image; got != "two" {
				t.Errorf("image = %q, want two", got)
			}
		},
	}, {
		name: "COMPOSE_FILE with the path separator",
		files: map[string]string{
			"a.yaml": "services:\n  web:\n    image: one\n",
			"b.yaml": "services:\n  db:\n    image: two\n",
		},
		env: map[string]string{"COMPOSE_FILE": "a.yaml:b.yaml"},
		check: func(t *testing.T, p *Project) {
			if got := p.ServiceNames(); !slices.Equal(got, []string{"db", "web"}) {
				t.Errorf("services = %v, want db and web", got)
			}
		},
	}, {
		name: ".env, then --env-file in order; the OS environment wins",
		files: map[string]string{
			"compose.yaml": "services:\n  web:\n    image: nginx:${TAG}\n    ports: ['${PORT}:80']\n    environment: ['WHO=${WHO}']\n",
			".env":         "TAG=fromdotenv\nPORT=1\nWHO=dotenv\n",
			"one.env":      "TAG=one\nPORT=2\n",
			"two.env":      "TAG=two\n",
		},
		env:  map[string]string{"WHO": "os"},
		opts: Options{EnvFiles: []string{"one.env", "two.env"}},
		check: func(t *testing.T, p *Project) {
			s := p.Services["web"]
			if s.Image != "nginx:two" {
				t.Errorf("image = %q, want nginx:two (the last --env-file wins)", s.Image)
			}
			if s.Ports[0].Published != "2" {
				t.Errorf("published port = %q, want 2 from one.env (.env is not read when --env-file is given)", s.Ports[0].Published)
			}
			if *s.Environment["WHO"] != "os" {
				t.Errorf("WHO = %q, want os", *s.Environment["WHO"])
			}
		},
	}, {
		name:  "interpolation defaults and alternatives",
		files: map[string]string{"compose.yaml": "services:\n  web:\n    image: ${IMG:-busybox}\n    command: ['${SET:+yes}', '$${LITERAL}']\n"},
		env:   map[string]string{"SET": "1"},
		check: func(t *testing.T, p *Project) {
			s := p.Services["web"]
			if s.Image != "busybox" || !slices.Equal(s.Command, []string{"yes", "${LITERAL}"}) {
				t.Errorf("image %q command %q, want busybox [yes ${LITERAL}]", s.Image, s.Command)
			}
		},
	}, {
		name: "--project-directory is where .env and relative paths are read",
		files: map[string]string{
			"files/compose.yaml": "services:\n  web:\n    image: x:${TAG}\n    volumes: [./data:/data]\n",
			"dir/.env":           "TAG=fromdir\n",
		},
		opts: Options{Files: []string{"files/compose.yaml"}, ProjectDir: "dir"},
		check: func(t *testing.T, p *Project) {
			s := p.Services["web"]
			if s.Image != "x:fromdir" {
				t.Errorf("image = %q, want x:fromdir", s.Image)
			}
			if !strings.HasSuffix(s.Volumes[0].Source, "/dir/data") {
				t.Errorf("bind source = %q, want it under the project directory", s.Volumes[0].Source)
			}
		},
	}, {
		name:  "profiles: only services without a profile by default",
		files: map[string]string{"compose.yaml": "services:\n  web: {image: x}\n  debug: {image: x, profiles: [dev]}\n"},
		check: func(t *testing.T, p *Project) {
			if got := p.ServiceNames(); !slices.Equal(got, []string{"web"}) {
				t.Errorf("services = %v, want [web]", got)
			}
		},
	}, {
		name:  "profiles: --profile enables",
		files: map[string]string{"compose.yaml": "services:\n  web: {image: x}\n  debug: {image: x, profiles: [dev]}\n"},
		opts:  Options{Profiles: []string{"dev"}},
		check: func(t *testing.T, p *Project) {
			if got := p.ServiceNames(); !slices.Equal(got, []string{"debug", "web"}) {
				t.Errorf("services = %v, want [debug web]", got)
			}
		},
	}, {
		name:  "profiles: COMPOSE_PROFILES from .env",
		files: map[string]string{"compose.yaml": "services:\n  web: {image: x}\n  debug: {image: x, profiles: [dev]}\n", ".env": "COMPOSE_PROFILES=dev\n"},
		check: func(t *testing.T, p *Project) {
			if _, ok := p.Services["debug"]; !ok {
				t.Errorf("services = %v, want debug enabled by COMPOSE_PROFILES in .env", p.ServiceNames())
			}
		},
	}, {
		name:  "naming a service enables its profile and selects its dependencies",
		files: map[string]string{"compose.yaml": "services:\n  web: {image: x}\n  db: {image: x}\n  debug: {image: x, profiles: [dev], depends_on: [db]}\n"},
		opts:  Options{Services: []string{"debug"}},
		check: func(t *testing.T, p *Project) {
			if got := p.ServiceNames(); !slices.Equal(got, []string{"db", "debug"}) {
				t.Errorf("services = %v, want [db debug]", got)
			}
		},
	}, {
		name: "extends from another file and the same file",
		files: map[string]string{
			"compose.yaml": "services:\n  base: {image: x, environment: [A=1]}\n  web:\n    extends: base\n    environment: [B=2]\n  api:\n    extends: {file: common.yaml, service: common}\n",
			"common.yaml":  "services:\n  common: {image: common, command: [serve]}\n",
		},
		check: func(t *testing.T, p *Project) {
			web, api := p.Services["web"], p.Services["api"]
			if web.Image != "x" || *web.Environment["A"] != "1" || *web.Environment["B"] != "2" {
				t.Errorf("web = %q %v, want image x with A and B", web.Image, web.Environment)
			}
			if api.Image != "common" || !slices.Equal(api.Command, []string{"serve"}) {
				t.Errorf("api = %q %q, want common [serve]", api.Image, api.Command)
			}
		},
	}, {
		name: "include brings another project's services",
		files: map[string]string{
			"compose.yaml":     "include: [sub/compose.yaml]\nservices:\n  web: {image: x, depends_on: [db]}\n",
			"sub/compose.yaml": "services:\n  db: {image: postgres}\n",
		},
		check: func(t *testing.T, p *Project) {
			if p.Services["db"].Image != "postgres" {
				t.Errorf("services = %v, want db from the included file", p.ServiceNames())
			}
		},
	}, {
		name: "!reset and !override",
		files: map[string]string{
			"compose.yaml": "services:\n  web:\n    image: x\n    ports: ['80:80']\n    environment: [A=1, B=2]\n",
			"over.yaml":    "services:\n  web:\n    ports: !reset []\n    environment: !override [C=3]\n",
		},
		opts: Options{Files: []string{"compose.yaml", "over.yaml"}},
		check: func(t *testing.T, p *Project) {
			s := p.Services["web"]
			if len(s.Ports) != 0 {
				t.Errorf("ports = %v, want none after !reset", s.Ports)
			}
			if len(s.Environment) != 1 || *s.Environment["C"] != "3" {
				t.Errorf("environment = %v, want only C=3 after !override", s.Environment)
			}
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			dir := files(t, tc.files)
			tc.check(t, load(t, filepath.Join(dir, tc.cwd), tc.opts))
		})
	}
}

func TestProjectName(t *testing.T) {
	tests := []struct {
		name, dir, file, flag, env, want string
	}{
		{name: "directory, normalized", dir: "My_App.v2", file: "services: {a: {image: x}}\n", want: "my_appv2"},
		{name: "name: key over directory", dir: "d", file: "name: fromfile\nservices: {a: {image: x}}\n", want: "fromfile"},
		{name: "COMPOSE_PROJECT_NAME over name:", dir: "d", file: "name: fromfile\nservices: {a: {image: x}}\n", env: "fromenv", want: "fromenv"},
		{name: "-p over everything", dir: "d", file: "name: fromfile\nservices: {a: {image: x}}\n", env: "fromenv", flag: "fromflag", want: "fromflag"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			if tc.env != "" {
				t.Setenv("COMPOSE_PROJECT_NAME", tc.env)
			}
			dir := files(t, map[string]string{tc.dir + "/compose.yaml": tc.file})
			p := load(t, filepath.Join(dir, tc.dir), Options{Name: tc.flag})
			if p.Name != tc.want {
				t.Errorf("name = %q, want %q", p.Name, tc.want)
			}
		})
	}
}

func TestLoadFromStdin(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = r
	t.Cleanup(func() { os.Stdin = old; r.Close() })
	go func() {
		w.WriteString("services:\n  web:\n    image: fromstdin\n")
		w.Close()
	}()
	p := load(t, dir, Options{Files: []string{"-"}, Name: "stdin"})
	if p.Services["web"].Image != "fromstdin" {
		t.Errorf("services = %v, want web read from standard input", p.Services)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		opts     Options
		env      map[string]string
		class    error
		contains []string
	}{
		// the line at fault, line 4 (go-yaml's parser counts from 0)
		{name: "YAML syntax", file: "services:\n  a:\n    image: x\n   b: 1\n", class: ErrInvalid, contains: []string{"compose.yaml", "line 4, column 4: did not find expected key"}},
		{name: "duplicate key", file: "services:\n  a:\n    image: x\n  a:\n    image: y\n", class: ErrInvalid, contains: []string{"compose.yaml: line 4: mapping key \"a\" already defined at line 2"}},
		{name: "unknown top-level key", file: "servics:\n  a: {image: x}\n", class: ErrInvalid, contains: []string{"compose.yaml", "additional properties 'servics' not allowed"}},
		{name: "unknown service key", file: "services:\n  a: {image: x, imagee: y}\n", class: ErrInvalid, contains: []string{"compose.yaml", "services.a additional properties 'imagee' not allowed"}},
		{name: "not a number", file: "services:\n  a: {image: x, pids_limit: abc}\n", class: ErrInvalid, contains: []string{"compose.yaml", `services.a.pids_limit: invalid value "abc": want a whole number`}},
		{name: "not a size", file: "services:\n  a: {image: x, mem_limit: abc}\n", class: ErrInvalid, contains: []string{"compose.yaml", "services.a.mem_limit: invalid size: 'abc'"}},
		{name: "wrong type", file: "services:\n  a: {image: x, ports: 80}\n", class: ErrInvalid, contains: []string{"compose.yaml", "ports"}},
		{name: "required variable", file: "services:\n  a: {image: '${NEED:?set NEED please}'}\n", class: ErrInvalid, contains: []string{"compose.yaml", "NEED", "set NEED please"}},
		{name: "missing file", file: "services: {a: {image: x}}\n", opts: Options{Files: []string{"nope.yaml"}}, class: ErrNotFound, contains: []string{"nope.yaml"}},
		{name: "dependency cycle", file: "services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [a]}\n", class: ErrCycle, contains: []string{"a -> b -> a"}},
		{name: "invalid project name", file: "services: {a: {image: x}}\n", opts: Options{Name: "Bad Name"}, class: ErrInvalid, contains: []string{"Bad Name"}},
		{name: "unknown profile", file: "services: {a: {image: x, profiles: [dev]}}\n", opts: Options{Profiles: []string{"prod"}}, class: ErrNotFound, contains: []string{`"prod"`, "dev"}},
		{name: "unknown service", file: "services: {a: {image: x}}\n", opts: Options{Services: []string{"nosuch"}}, class: ErrNotFound, contains: []string{"nosuch"}},
		{name: "undefined dependency", file: "services: {a: {image: x, depends_on: [ghost]}}\n", class: ErrInvalid, contains: []string{"compose.yaml", "ghost"}},
		{name: "recursive alias", file: "x-a: &a {k: {<<: *a}}\nservices: {a: {image: x}}\n", class: ErrInvalid, contains: []string{"compose.yaml", "line 1", "*a"}},
		{name: "whole file reset", file: "!reset\n", class: ErrInvalid, contains: []string{"compose.yaml", "!reset"}},
		{name: "missing env file", file: "services: {a: {image: x}}\n", opts: Options{EnvFiles: []string{"nope.env"}}, class: ErrNotFound, contains: []string{"nope.env"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			dir := files(t, map[string]string{"compose.yaml": tc.file})
			t.Chdir(dir)
			_, err := Load(context.Background(), tc.opts)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if !errors.Is(err, tc.class) {
				t.Errorf("error %q is not %v", err, tc.class)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
			for _, c := range tc.contains {
				if !strings.Contains(err.Error(), c) {
					t.Errorf("error %q does not mention %q", err, c)
				}
			}
		})
	}
}

func TestParallelLimit(t *testing.T) {
	cleanEnv(t)
	if n, _ := ParallelLimit(-1, false); n != -1 {
		t.Errorf("default = %d, want -1", n)
	}
	t.Setenv("COMPOSE_PARALLEL_LIMIT", "3")
	if n, _ := ParallelLimit(-1, false); n != 3 {
		t.Errorf("from env = %d, want 3", n)
	}
	if n, _ := ParallelLimit(5, true); n != 5 {
		t.Errorf("flag over env = %d, want 5", n)
	}
	t.Setenv("COMPOSE_PARALLEL_LIMIT", "many")
	if _, err := ParallelLimit(-1, false); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad env value: err = %v, want ErrInvalid", err)
	}
}

// TestIncludedFileFailures: an included file, which compose-go reads itself,
// cannot crash berth or exhaust its memory: a self-merging anchor fails
// through the bound on compose-go's node visits, and compose-go's panic on a
// root !reset becomes an error.
func TestIncludedFileFailures(t *testing.T) {
	for name, included := range map[string]string{
		"recursive alias": "x-a: &a {k: {<<: *a}}\nservices: {b: {image: x}}\n",
		"root reset":      "!reset\n",
	} {
		t.Run(name, func(t *testing.T) {
			cleanEnv(t)
			t.Chdir(files(t, map[string]string{
				"compose.yaml":  "include: [included.yaml]\nservices: {a: {image: x}}\n",
				"included.yaml": included,
			}))
			_, err := Load(context.Background(), Options{})
			if !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v, want a one-line ErrInvalid", err)
			}
		})
	}
}
