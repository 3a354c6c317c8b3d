package k8s

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKubeMappingFlags: up on a context takes convert's mapping choices.
// A bind mount of a file is refused, before anything is applied, until
// --bind-as-configmap makes it a ConfigMap the pod reads; --publish-as
// loadbalancer makes the published ports' Service a LoadBalancer; init:
// true makes an init PID 1, not the entrypoint. Without
// --context the flags are usage errors.
func TestKubeMappingFlags(t *testing.T) {
	c, o, image := onNewCluster(t, "km")
	if err := os.WriteFile(filepath.Join(o.dir, "motd.txt"), []byte("welcome from a bind mount\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o.write(t, `services:
  web:
    image: `+image+`
    command: ["sh", "-c", "cat /etc/motd.txt; exec sleep 3600"]
    init: true
    volumes:
      - ./motd.txt:/etc/motd.txt:ro
    ports: ["30123:8080"]
    stop_grace_period: 1s
`)
	_, errOut, code := o.try("up", "-d")
	if code != 1 || !strings.Contains(errOut, `service "web"`) || !strings.Contains(errOut, "--bind-as-configmap") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("up -d of a bind mount: exit %d, %q; want 1 and one line naming the service and --bind-as-configmap", code, errOut)
	}
	if got := o.labelled(t, berthKinds); len(got) != 0 {
		t.Errorf("a refused up applied %v", got)
	}

	o.run(t, "up", "-d", "--wait", "--bind-as-configmap", "--publish-as", "loadbalancer")
	if out, _ := o.run(t, "logs", "--no-color", "web"); strings.TrimSpace(out) != "web-1  | welcome from a bind mount" {
		t.Errorf("web's log: %q; want the bound file's content", out)
	}
	// init: true: the entrypoint is not PID 1, an init is (the pod's
	// pause process, which reaps orphans)
	if out, _ := o.run(t, "exec", "-T", "web", "cat", "/proc/1/cmdline"); !strings.Contains(out, "pause") {
		t.Errorf("init: true: PID 1 of web is %q, want the pause process", out)
	}
	if typ := c.kubectl(t, "", "-n", o.project, "get", "service", "web-published", "-o", "jsonpath={.spec.type}"); typ != "LoadBalancer" {
		t.Errorf("--publish-as loadbalancer: the Service web-published is %q", typ)
	}

	// without --context: a usage error, nothing done
	if _, errOut, code := o.tryHere("up", "-d", "--publish-as", "loadbalancer"); code != 125 || errOut != "berth: --publish-as needs --context\n" {
		t.Errorf("up --publish-as without --context: exit %d, %q", code, errOut)
	}
	o.run(t, "down", "-v")
}
