package systemd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/berth-dev/berth/disk"
)

// DefaultUnitDir is where units of the local administrator go.
const DefaultUnitDir = "/etc/systemd/system"

// defaultRoot is berth's own default state root, whose unit has the plain
// name.
const defaultRoot = "/var/lib/berth"

// wantedBy is the target the unit is enabled for: the system's normal
// boot, with networking, as Docker's unit is.
const wantedBy = "multi-user.target"

// Options say which berth, for which state root, and where the unit goes.
type Options struct {
	// Binary is the absolute path of the berth that the unit runs.
	Binary string
	// Root is the absolute state root the unit restores.
	Root string
	// UnitDir is where the unit file goes; "" is DefaultUnitDir. Only
	// there is the unit enabled through systemctl (when systemd runs):
	// elsewhere the wants link is made by hand.
	UnitDir string
}

func (o Options) dir() string {
	if o.UnitDir == "" {
		return DefaultUnitDir
	}
	return o.UnitDir
}

// UnitName is the unit of the state root: berth-boot.service for the
// default root, berth-boot-<8 hex digits of the root's hash>.service for
// another, so that each root can have its own.
func UnitName(root string) string {
	root = filepath.Clean(root)
	if root == defaultRoot {
		return "berth-boot.service"
	}
	sum := sha256.Sum256([]byte(root))
	return "berth-boot-" + hex.EncodeToString(sum[:4]) + ".service"
}

// Unit is the unit file's text. Type=oneshot with RemainAfterExit: the
// command restores and exits, and the unit stays active, so that it runs
// once per boot; after network-online.target (and wanting it), since a
// container's first instruction may be to reach out; after the firewall
// managers whose start rewrites the filter rules (nftables, firewalld,
// ufw, Docker's daemon), so that berth's rules are added after theirs.
// KillMode=process: should the unit be stopped or restarted, systemd
// kills only the (long finished) command, not the containers' monitors,
// which it started and which stay in its cgroup unless they leave it
// themselves; Docker's own unit keeps its containers' shims the same
// way.
func Unit(binary, root string) string {
	return fmt.Sprintf(`# Written by "berth system install"; "berth system install --uninstall" removes it.
[Unit]
Description=Restore the berth containers a reboot stopped (%s)
Documentation=https://github.com/berth-dev/berth#after-a-reboot
Wants=network-online.target
After=network-online.target nftables.service firewalld.service ufw.service docker.service
RequiresMountsFor=%s

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=%s --root %s system boot
KillMode=process

[Install]
WantedBy=%s
`, specifiers(root), quote(root), quote(binary), quote(root), wantedBy)
}

// specifiers escapes systemd's % specifiers in a unit file's value.
func specifiers(s string) string { return strings.ReplaceAll(s, "%", "%%") }

// quote makes s one word of a unit file's command line: as it is when it
// needs nothing, else in double quotes with backslashes and quotes
// escaped; % is doubled either way.
func quote(s string) string {
	s = specifiers(s)
	if s != "" && !strings.ContainsAny(s, " \t\n\"'\\;$") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`, "$", "$$")
	return `"` + r.Replace(s) + `"`
}

// Result is what Install or Uninstall did, for the caller to report.
type Result struct {
	// Unit is the unit file's path; Link the wants link's.
	Unit, Link string
	// Systemctl is set when systemctl enabled or disabled the unit.
	Systemctl bool
}

// Running reports whether systemd is the running init system (its own
// test, sd_booted(3)).
func Running() bool {
	_, err := os.Stat("/run/systemd/system")
	return err == nil
}

// Install writes the unit and enables it: through systemctl (a daemon
// reload, then enable) when systemd runs and the unit is in
// DefaultUnitDir, else by making the wants link systemctl would make,
// which systemd follows at the next boot. Installing again rewrites the
// unit (a moved binary, say).
func Install(ctx context.Context, o Options) (Result, error) {
	if !filepath.IsAbs(o.Binary) || !filepath.IsAbs(o.Root) {
		return Result{}, fmt.Errorf("installing the boot unit: the binary (%q) and the root (%q) must be absolute paths", o.Binary, o.Root)
	}
	name := UnitName(o.Root)
	res := Result{Unit: filepath.Join(o.dir(), name), Link: filepath.Join(o.dir(), wantedBy+".wants", name)}
	if err := os.MkdirAll(o.dir(), 0o755); err != nil {
		return res, fmt.Errorf("installing the boot unit: %w", err)
	}
	if err := disk.WriteFile(res.Unit, []byte(Unit(o.Binary, o.Root)), 0o644); err != nil {
		return res, fmt.Errorf("installing the boot unit: %w", err)
	}
	if Running() && o.dir() == DefaultUnitDir {
		res.Systemctl = true
		if err := systemctl(ctx, "daemon-reload"); err != nil {
			return res, err
		}
		return res, systemctl(ctx, "enable", name)
	}
	if err := os.MkdirAll(filepath.Dir(res.Link), 0o755); err != nil {
		return res, fmt.Errorf("enabling the boot unit: %w", err)
	}
	if target, err := os.Readlink(res.Link); err == nil && target == res.Unit {
		return res, nil
	}
	os.Remove(res.Link)
	if err := os.Symlink(res.Unit, res.Link); err != nil {
		return res, fmt.Errorf("enabling the boot unit: %w", err)
	}
	return res, nil
}

// Uninstall disables the unit and removes it, as Install made it; what is
// already gone is not an error.
func Uninstall(ctx context.Context, o Options) (Result, error) {
	name := UnitName(o.Root)
	res := Result{Unit: filepath.Join(o.dir(), name), Link: filepath.Join(o.dir(), wantedBy+".wants", name)}
	if Running() && o.dir() == DefaultUnitDir {
		if _, err := os.Stat(res.Unit); err == nil {
			res.Systemctl = true
			if err := systemctl(ctx, "disable", name); err != nil {
				return res, err
			}
		}
	}
	for _, p := range []string{res.Link, res.Unit} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return res, fmt.Errorf("removing the boot unit: %w", err)
		}
	}
	if res.Systemctl {
		return res, systemctl(ctx, "daemon-reload")
	}
	return res, nil
}

func systemctl(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "systemctl", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("systemctl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
