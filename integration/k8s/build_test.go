package k8s

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestKubeBuildPush: berth --context C up -d --build --push builds a
// service's image with berth's builder on this machine, pushes it to the
// registry its image: names, and runs it on the cluster pinned to the
// digest pushed: the pod serves the file the build copied in; a second
// identical up writes nothing (the same digest); a changed file rolls
// the service out with a new digest. Refused, each in one line: build:
// without image: (before anything is applied), --build without --push
// on a context, --push without a context.
func TestKubeBuildPush(t *testing.T) {
	c, o, base := onNewCluster(t, "kp")
	project := o.project
	// put writes a file of a project's build context
	put := func(t *testing.T, path, content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ref := c.Registry + "/" + project + "/web:1"
	o.write(t, `services:
  web:
    image: `+ref+`
    build: .
    expose: ["8080"]
    stop_grace_period: 1s
`)
	put(t, filepath.Join(o.dir, "Dockerfile"), "FROM "+base+"\nCOPY index.html /www/index.html\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n")
	put(t, filepath.Join(o.dir, "index.html"), "page one\n")

	// image is the Deployment's image; registry the digest the registry
	// serves ref by
	image := func(t *testing.T) string {
		t.Helper()
		return o.c.kubectl(t, "", "-n", project, "get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
	}
	registry := func(t *testing.T) string {
		t.Helper()
		r, err := name.ParseReference(ref, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		d, err := remote.Head(r)
		if err != nil {
			t.Fatalf("the registry has no %s: %v", ref, err)
		}
		return d.Digest.String()
	}
	// page is what web's pod has at /www/index.html, waiting for want
	// while an old pod may still answer during a rollout
	page := func(t *testing.T, want string) {
		t.Helper()
		var out, errOut string
		code := -1
		for i := 0; i < 60; i++ {
			out, errOut, code = o.try("exec", "-T", "web", "sh", "-c", `printf 'GET /index.html HTTP/1.0\r\n\r\n' | nc -w 2 127.0.0.1 8080`)
			if code == 0 && strings.HasSuffix(out, "\r\n\r\n"+want) {
				return
			}
			time.Sleep(500 * time.Millisecond)
		}
		t.Errorf("http://127.0.0.1:8080/index.html in web: exit %d %q %q; want %q", code, out, errOut, want)
	}

	_, progress := o.run(t, "up", "-d", "--build", "--push")
	for _, want := range []string{
		"COPY index.html /www/index.html",                                        // the build's steps
		"The push refers to repository [" + c.Registry + "/" + project + "/web]", // the push's
		" Deployment web  Created\n", " Deployment web  Ready\n",
	} {
		if !strings.Contains(progress, want) {
			t.Errorf("up --build --push's progress has no %q:\n%s", want, progress)
		}
	}
	if strings.Contains(progress, `key "build"`) || strings.Contains(progress, `key "pull_policy"`) {
		t.Errorf("up --build --push warned of what it built:\n%s", progress)
	}
	first := image(t)
	if want := ref + "@" + registry(t); first != want {
		t.Fatalf("web's image %q, want it pinned to what was pushed: %q", first, want)
	}
	page(t, "page one\n")

	t.Run("unchanged", func(t *testing.T) {
		// the same files build the same digest
		if objects := o.upUnchanged(t, berthKinds, "up", "-d", "--build", "--push"); objects["Deployment/web"] == "" {
			t.Errorf("objects of the project: %v; want Deployment/web", objects)
		}
		if got := image(t); got != first {
			t.Errorf("web's image %q after an unchanged build, was %q", got, first)
		}
	})

	t.Run("changed", func(t *testing.T) {
		before := o.labelled(t, "deployments")
		put(t, filepath.Join(o.dir, "index.html"), "page two\n")
		_, progress := o.run(t, "up", "-d", "--build", "--push")
		after := o.labelled(t, "deployments")
		gen := func(s string) string { return strings.Fields(s)[1] }
		if gen(after["Deployment/web"]) == gen(before["Deployment/web"]) {
			t.Errorf("web's Deployment did not roll: %s → %s", before["Deployment/web"], after["Deployment/web"])
		}
		if !strings.Contains(progress, " Deployment web  Configured\n") {
			t.Errorf("progress:\n%s", progress)
		}
		second := image(t)
		if want := ref + "@" + registry(t); second != want || second == first {
			t.Errorf("web's image %q after a changed build (was %q), want the new digest pushed: %q", second, first, want)
		}
		page(t, "page two\n")
	})

	t.Run("refused", func(t *testing.T) {
		before := o.labelled(t, berthKinds)
		// --build without --push: the cluster cannot pull from this machine
		_, errOut, code := o.try("up", "-d", "--build")
		if code != 125 || errOut != "berth: up --build on a Kubernetes context needs --push: the cluster pulls its images from a registry, not from this machine\n" {
			t.Errorf("up -d --build on a context: exit %d, %q", code, errOut)
		}
		_, errOut, code = o.try("up", "-d", "--push", "--no-build")
		if code != 125 || errOut != "berth: --push and --no-build are incompatible\n" {
			t.Errorf("up -d --push --no-build: exit %d, %q", code, errOut)
		}
		// --push without a context: a local up runs its images here
		if _, errOut, code := o.tryHere("up", "-d", "--push"); code != 125 || errOut != "berth: --push needs --context: it pushes the images up builds for a Kubernetes cluster to pull\n" {
			t.Errorf("up -d --push without --context: exit %d, %q", code, errOut)
		}
		// the spec (generation) and identity (uid) of each object: its
		// resourceVersion may move still, as the controllers write the
		// status of the last rollout's end (an old pod going)
		spec := func(v string) string { return strings.Join(strings.Fields(v)[1:], " ") }
		after := o.labelled(t, berthKinds)
		for k, v := range before {
			if spec(after[k]) != spec(v) {
				t.Errorf("a refused up changed %s: %s → %s", k, v, after[k])
			}
		}

		// build: without image: the cluster would pull PROJECT-SERVICE,
		// which no registry has; refused with or without --build, before
		// anything is made
		bare := newOnCluster(t, c, project+"-bare")
		bare.write(t, `services:
  api:
    image: `+base+`
    command: ["sleep", "3600"]
  app:
    build: .
`)
		put(t, filepath.Join(bare.dir, "Dockerfile"), "FROM "+base+"\n")
		want := `berth: service "app" has build: but no image: a cluster pulls its images from a registry, where ` + project + `-bare-app is not; ` +
			"name the image to push in image: (REGISTRY/REPOSITORY:TAG) and run up --build --push\n"
		for _, args := range [][]string{{"up", "-d", "--build", "--push"}, {"up", "-d"}} {
			_, errOut, code := bare.try(args...)
			if code != 1 || errOut != want {
				t.Errorf("%s of a service with build: and no image:: exit %d, %q; want 1, %q", strings.Join(args, " "), code, errOut, want)
			}
		}
		if left := bare.labelled(t, berthKinds); len(left) != 0 {
			t.Errorf("a refused up made %v", left)
		}
		if out, _ := c.tryKubectl("", "get", "namespace", project+"-bare"); out != "" {
			t.Errorf("a refused up made namespace %s: %s", project+"-bare", out)
		}
	})
}
