package runtime

import "github.com/berth-dev/berth/runtime/spec"

// The spec's types are package spec's, which records keep without linking
// libcontainer; the runtime names them as its own.
type (
	Spec           = spec.Spec
	Device         = spec.Device
	Rootfs         = spec.Rootfs
	Process        = spec.Process
	Resources      = spec.Resources
	WeightDevice   = spec.WeightDevice
	ThrottleDevice = spec.ThrottleDevice
	Throttles      = spec.Throttles
)

// Host, NoShm and ShareableShm are package spec's.
const (
	Host         = spec.Host
	NoShm        = spec.NoShm
	ShareableShm = spec.ShareableShm
)

// ShmDir is spec.ShmDir.
func ShmDir(bundle string) string { return spec.ShmDir(bundle) }
