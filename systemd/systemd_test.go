package systemd

import (
	"strings"
	"testing"
)

// TestUnit: the unit runs the given berth on the given root, once per
// boot after the network, and quotes and escapes what systemd would read
// otherwise.
func TestUnit(t *testing.T) {
	u := Unit("/usr/local/bin/berth", "/var/lib/berth")
	for _, want := range []string{
		"\nExecStart=/usr/local/bin/berth --root /var/lib/berth system boot\n",
		"\nType=oneshot\n", "\nRemainAfterExit=yes\n", "\nWants=network-online.target\n",
		"\nAfter=network-online.target ", "\nWantedBy=multi-user.target\n",
	} {
		if !strings.Contains(u, want) {
			t.Errorf("unit lacks %q:\n%s", want, u)
		}
	}
	for in, want := range map[string]string{
		"/opt/berth":       "/opt/berth",
		"/opt/my berth":    `"/opt/my berth"`,
		"/opt/50%":         "/opt/50%%",
		`/opt/a"b\c`:       `"/opt/a\"b\\c"`,
		"/opt/$HOME/berth": `"/opt/$$HOME/berth"`,
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %q, want %q", in, got, want)
		}
	}
	if UnitName("/var/lib/berth/") != "berth-boot.service" || UnitName("/srv/berth") == UnitName("/srv/other") || !strings.HasPrefix(UnitName("/srv/berth"), "berth-boot-") {
		t.Errorf("unit names: %s %s", UnitName("/var/lib/berth/"), UnitName("/srv/berth"))
	}
}
