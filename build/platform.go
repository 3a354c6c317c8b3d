package build

import (
	goruntime "runtime"
	"strings"

	"github.com/containerd/platforms"

	"github.com/berth-dev/berth/errclass"
)

func goarch() string { return goruntime.GOARCH }

// CheckPlatforms accepts --platform values (each may list several,
// comma-separated) that name this machine's platform, normalized as
// containerd normalizes them (x86_64 is amd64, amd64/v1 is amd64,
// aarch64 is arm64), and refuses any other: berth's builder runs
// steps natively, without emulation.
func CheckPlatforms(values []string) error {
	native := platforms.Normalize(platforms.DefaultSpec())
	match := platforms.NewMatcher(native)
	for _, v := range values {
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			p, err := platforms.Parse(s)
			if err != nil {
				return errclass.New(ErrInvalid, "invalid platform %q: %v", s, err)
			}
			if !match.Match(platforms.Normalize(p)) {
				return errclass.New(ErrUnsupported, "platform %s is not this machine's (%s): berth's builder builds for the native platform only, without emulation", s, platforms.Format(native))
			}
		}
	}
	return nil
}
