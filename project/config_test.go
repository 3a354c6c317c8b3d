package project

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const configFile = `name: cfg
services:
  web:
    image: nginx:${TAG:-1.27}
    command: ["echo", "$$HOME"]
    depends_on: [api]
    volumes: [data:/data]
    networks: [front]
  api:
    build: .
    depends_on: [db]
    environment:
      SECRET: ${SECRET:?set SECRET}
  db:
    image: postgres
  debug:
    image: busybox
    profiles: [dev, tools]
volumes:
  data: {}
  unused: {}
networks:
  front: {}
`

func writeConfig(t *testing.T, o ConfigOptions, args ...string) string {
	t.Helper()
	cleanEnv(t)
	t.Setenv("SECRET", "s3")
	dir := files(t, map[string]string{"compose.yaml": configFile})
	t.Chdir(dir)
	var out bytes.Buffer
	if err := WriteConfig(context.Background(), o, args, &out); err != nil {
		t.Fatalf("WriteConfig: %v", err)
	}
	return out.String()
}

func TestWriteConfigListings(t *testing.T) {
	tests := []struct {
		name string
		o    ConfigOptions
		args []string
		want string
	}{
		{"services, dependencies first", ConfigOptions{ListServices: true}, nil, "db\napi\nweb\n"},
		{"services with a profile", ConfigOptions{Options: Options{Profiles: []string{"dev"}}, ListServices: true}, nil, "db\ndebug\napi\nweb\n"},
		{"volumes in use", ConfigOptions{ListVolumes: true}, nil, "data\n"},
		{"networks in use", ConfigOptions{ListNetworks: true}, nil, "default\nfront\n"},
		{"images, built ones named project-service", ConfigOptions{ListImages: true}, nil, "cfg-api\npostgres\nnginx:1.27\n"},
		{"images of one service", ConfigOptions{ListImages: true}, []string{"db"}, "postgres\n"},
		{"profiles", ConfigOptions{ListProfiles: true}, nil, "dev\ntools\n"},
		{"variables table", ConfigOptions{ListVariables: true}, nil,
			"NAME                REQUIRED            DEFAULT VALUE       ALTERNATE VALUE\n" +
				"SECRET              true                                    \n" +
				"TAG                 false               1.27                \n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := writeConfig(t, tc.o, tc.args...); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestWriteConfigProject(t *testing.T) {
	out := writeConfig(t, ConfigOptions{})
	for _, want := range []string{
		"name: cfg\n",
		"image: nginx:1.27\n",
		"SECRET: s3\n",
		"- $$HOME\n", // a literal $ is escaped again so the output loads back the same
		"depends_on:\n      api:\n        condition: service_started\n",
		"name: cfg_data\n",
		"name: cfg_default\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "unused") || strings.Contains(out, "debug") {
		t.Errorf("output names an unused volume or a disabled service:\n%s", out)
	}

	var m map[string]any
	if err := json.Unmarshal([]byte(writeConfig(t, ConfigOptions{Format: "json"})), &m); err != nil {
		t.Fatalf("--format json is not JSON: %v", err)
	}
	if m["name"] != "cfg" {
		t.Errorf("json name = %v, want cfg", m["name"])
	}

	raw := writeConfig(t, ConfigOptions{Options: Options{NoInterpolate: true}})
	if !strings.Contains(raw, "${TAG:-1.27}") || !strings.Contains(raw, "${SECRET:?set SECRET}") {
		t.Errorf("--no-interpolate output lost the variables:\n%s", raw)
	}

	one := writeConfig(t, ConfigOptions{}, "db")
	if strings.Contains(one, "web:") || !strings.Contains(one, "db:") {
		t.Errorf("config db should render only db:\n%s", one)
	}
}

func TestWriteConfigOutputAndQuiet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.yaml")
	if got := writeConfig(t, ConfigOptions{Output: path}); got != "" {
		t.Errorf("-o also printed %q", got)
	}
	data, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(data, []byte("name: cfg\n")) {
		t.Errorf("-o file = %q, %v", data, err)
	}
	if got := writeConfig(t, ConfigOptions{Quiet: true}); got != "" {
		t.Errorf("-q printed %q", got)
	}
}

func TestWriteConfigHash(t *testing.T) {
	all := writeConfig(t, ConfigOptions{Hash: "*"})
	lines := strings.Split(strings.TrimSpace(all), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "api ") || !strings.HasPrefix(lines[2], "web ") {
		t.Fatalf("--hash '*' = %q, want api, db, web with hashes", all)
	}
	if one := writeConfig(t, ConfigOptions{Hash: "web"}); one != lines[2]+"\n" {
		t.Errorf("--hash web = %q, want %q", one, lines[2])
	}
}

func TestWriteConfigEnvironment(t *testing.T) {
	out := writeConfig(t, ConfigOptions{ListEnvironment: true})
	if !strings.Contains(out, "\nSECRET=s3\n") {
		t.Errorf("--environment lacks SECRET=s3")
	}
}

// TestConfigRoundTrip: what `config` prints is itself a compose file that
// renders to the same bytes, as with docker compose.
func TestConfigRoundTrip(t *testing.T) {
	first := writeConfig(t, ConfigOptions{})
	dir := files(t, map[string]string{"compose.yaml": first})
	t.Chdir(dir)
	var second bytes.Buffer
	if err := WriteConfig(context.Background(), ConfigOptions{}, nil, &second); err != nil {
		t.Fatal(err)
	}
	if second.String() != first {
		t.Errorf("rendering the rendered file changed it:\nfirst:\n%s\nsecond:\n%s", first, second.String())
	}
}
