package k8s

import (
	"strings"
	"testing"
)

// TestKubeExecOptions: exec's -e and -w on a cluster, which a pod's exec
// does not take: berth runs the command under env and sh, so the
// variables and the directory are the command's, its exit code and
// output its own; an image without env says that -e needs it; -u,
// --privileged and -d are refused with why.
func TestKubeExecOptions(t *testing.T) {
	_, o, image := onNewCluster(t, "ke")
	o.write(t, `services:
  app:
    image: `+image+`
    command: ["sleep", "3600"]
    working_dir: /tmp
    environment:
      FROM_COMPOSE: compose
    stop_grace_period: 1s
`)
	o.run(t, "up", "-d", "--wait")

	t.Run("workdir", func(t *testing.T) {
		o.run(t, "exec", "-T", "app", "mkdir", "-p", "/srv/a b")
		out, errOut, code := o.try("exec", "-T", "-w", "/srv/a b", "app", "sh", "-c", `pwd; echo "$FROM_COMPOSE"; exit 7`)
		if code != 7 || out != "/srv/a b\ncompose\n" {
			t.Errorf("exec -w '/srv/a b': exit %d, %q %q; want 7, the directory and the service's environment", code, out, errOut)
		}
		out, errOut, code = o.try("exec", "-T", "-w", "/no/such", "app", "true")
		if code != 126 || !strings.Contains(errOut, "/no/such") {
			t.Errorf("exec -w /no/such: exit %d, %q %q; want 126 and the shell's error naming it", code, out, errOut)
		}
		_, errOut, code = o.try("exec", "-T", "-w", "rel", "app", "true")
		if code == 0 || !strings.Contains(errOut, `the working directory "rel" is invalid: it needs to be an absolute path`) {
			t.Errorf("exec -w rel: exit %d, %q", code, errOut)
		}
	})

	t.Run("env", func(t *testing.T) {
		// the image has no env: -e says it needs one
		_, errOut, code := o.try("exec", "-T", "-e", "A=1", "app", "true")
		if want := `berth: berth exec --env runs the command under env on a Kubernetes context, and the image of service "app" has no env`; code != 1 || !strings.HasPrefix(errOut, want) {
			t.Errorf("exec -e in an image without env: exit %d, %q; want %q", code, errOut, want)
		}
		o.run(t, "exec", "-T", "app", "busybox", "ln", "-s", "busybox", "/bin/env")
		out, errOut, code := o.try("exec", "-T", "-e", "A=one two", "-e", "FROM_COMPOSE=flag", "-e", "B=x=y",
			"app", "sh", "-c", `echo "$A|$FROM_COMPOSE|$B|$PWD"; exit 5`)
		if code != 5 || out != "one two|flag|x=y|/tmp\n" {
			t.Errorf("exec -e: exit %d, %q %q; want 5 and the variables given", code, out, errOut)
		}
		out, errOut, code = o.try("exec", "-T", "-e", "A=1", "-w", "/", "app", "sh", "-c", `echo "$A $(pwd)"`)
		if code != 0 || out != "1 /\n" {
			t.Errorf("exec -e -w: exit %d, %q %q", code, out, errOut)
		}
	})

	t.Run("refused", func(t *testing.T) {
		for flag, why := range map[string]string{"--user": "runs as its container's user", "--privileged": "has its container's privileges",
			"--detach": "ends with its connection"} {
			args := []string{"exec", "-T", flag}
			if flag == "--user" {
				args = append(args, "0")
			}
			_, errOut, code := o.try(append(args, "app", "true")...)
			want := "berth: berth exec " + flag + " is not supported on a Kubernetes context: "
			if code != 1 || !strings.HasPrefix(errOut, want) || !strings.Contains(errOut, why) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("exec %s: exit %d, %q; want one line %q... saying it %s", flag, code, errOut, want, why)
			}
		}
	})
}
