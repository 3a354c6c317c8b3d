package project

import (
	"cmp"
	"context"
	"path/filepath"
	"testing"
)

// TestServiceHash loads a base service and a variant of it and checks whether
// the variant's hash differs: only the fields documented on ServiceHash are
// left out.
func TestServiceHash(t *testing.T) {
	const base = "services:\n  web:\n    image: nginx\n    environment: [A=1]\n    depends_on: [db]\n    profiles: [p]\n  db: {image: x, profiles: [p]}\n"
	tests := []struct {
		name          string
		base, variant string // base "" is the shared base
		changes       bool
	}{
		{"same file", "", base, false},
		{"image", "", "services:\n  web:\n    image: nginx:2\n    environment: [A=1]\n    depends_on: [db]\n    profiles: [p]\n  db: {image: x, profiles: [p]}\n", true},
		{"environment", "", "services:\n  web:\n    image: nginx\n    environment: [A=2]\n    depends_on: [db]\n    profiles: [p]\n  db: {image: x, profiles: [p]}\n", true},
		{"command", "", "services:\n  web:\n    image: nginx\n    command: [x]\n    environment: [A=1]\n    depends_on: [db]\n    profiles: [p]\n  db: {image: x, profiles: [p]}\n", true},
		{"depends_on", "", "services:\n  web:\n    image: nginx\n    environment: [A=1]\n    profiles: [p]\n  db: {image: x, profiles: [p]}\n", false},
		{"profiles", "", "services:\n  web:\n    image: nginx\n    environment: [A=1]\n    depends_on: [db]\n    profiles: [p, q]\n  db: {image: x, profiles: [p]}\n", false},
		{"scale", "", "services:\n  web:\n    image: nginx\n    scale: 3\n    environment: [A=1]\n    depends_on: [db]\n    profiles: [p]\n  db: {image: x, profiles: [p]}\n", false},
		{"deploy.replicas", "services:\n  web: {image: nginx, profiles: [p], deploy: {replicas: 2}}\n", "services:\n  web: {image: nginx, profiles: [p], deploy: {replicas: 3}}\n", false},
		{"build and pull_policy", "", "services:\n  web:\n    image: nginx\n    build: .\n    pull_policy: always\n    environment: [A=1]\n    depends_on: [db]\n    profiles: [p]\n  db: {image: x, profiles: [p]}\n", false},
		{"deploy.resources", "", "services:\n  web:\n    image: nginx\n    deploy: {resources: {limits: {memory: 1g}}}\n    environment: [A=1]\n    depends_on: [db]\n    profiles: [p]\n  db: {image: x, profiles: [p]}\n", true},
	}
	hash := func(t *testing.T, file string) string {
		cleanEnv(t)
		dir := files(t, map[string]string{"compose.yaml": file})
		t.Chdir(dir)
		p, err := Load(context.Background(), Options{Name: "h", Profiles: []string{"p"}})
		if err != nil {
			t.Fatal(err)
		}
		h, err := ServiceHash(p.Services["web"])
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := hash(t, cmp.Or(tc.base, base)), hash(t, tc.variant)
			if (a != b) != tc.changes {
				t.Errorf("hash changed = %v, want %v", a != b, tc.changes)
			}
		})
	}
}

// TestServiceHashFollowsEnvFile: the hash covers environment after env_file
// is merged, so editing an env file recreates the service.
func TestServiceHashFollowsEnvFile(t *testing.T) {
	cleanEnv(t)
	dir := files(t, map[string]string{"compose.yaml": "services:\n  web: {image: x, env_file: [app.env]}\n", "app.env": "A=1\n"})
	t.Chdir(dir)
	hash := func() string {
		p, err := Load(context.Background(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		h, _ := ServiceHash(p.Services["web"])
		return h
	}
	before := hash()
	files2 := filepath.Join(dir, "app.env")
	writeFile(t, files2, "A=2\n")
	if hash() == before {
		t.Error("hash did not change when env_file content changed")
	}
}
