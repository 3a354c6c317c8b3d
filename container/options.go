package container

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/runtime"
)

// ParseUlimit reads Docker's --ulimit: name=soft[:hard] (nofile=1024:2048).
func ParseUlimit(s string) (specs.POSIXRlimit, error) {
	name, vals, ok := strings.Cut(s, "=")
	if !ok {
		return specs.POSIXRlimit{}, errclass.New(ErrInvalid, "invalid ulimit %q: want name=soft[:hard]", s)
	}
	soft, hard, hasHard := strings.Cut(vals, ":")
	sv, err1 := strconv.ParseUint(soft, 10, 64)
	hv := sv
	var err2 error
	if hasHard {
		hv, err2 = strconv.ParseUint(hard, 10, 64)
	}
	if err1 != nil || err2 != nil || hv < sv {
		return specs.POSIXRlimit{}, errclass.New(ErrInvalid, "invalid ulimit %q: limits must be numbers, soft no higher than hard", s)
	}
	return specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(name), Soft: sv, Hard: hv}, nil
}

// ParseTmpfs reads Docker's --tmpfs: /path[:options], mounted noexec,
// nosuid, nodev unless the options say otherwise.
func ParseTmpfs(s string) (specs.Mount, error) {
	dst, opts, _ := strings.Cut(s, ":")
	if !strings.HasPrefix(dst, "/") {
		return specs.Mount{}, errclass.New(ErrInvalid, "invalid tmpfs %q: the mount point must be an absolute path", s)
	}
	options := []string{"noexec", "nosuid", "nodev"}
	for _, o := range strings.Split(opts, ",") {
		if o == "" {
			continue
		}
		if v, ok := strings.CutPrefix(o, "size="); ok {
			n, err := units.RAMInBytes(v)
			if err != nil || n <= 0 {
				return specs.Mount{}, errclass.New(ErrInvalid, "invalid tmpfs size %q in %q", v, s)
			}
			o = fmt.Sprintf("size=%d", n)
		}
		options = append(options, o)
	}
	return specs.Mount{Destination: dst, Type: "tmpfs", Source: "tmpfs", Options: options}, nil
}

// ParseDevice reads Docker's --device: host[:container[:permissions]].
func ParseDevice(s string) (runtime.Device, error) {
	parts := strings.Split(s, ":")
	d := runtime.Device{Host: parts[0]}
	switch len(parts) {
	case 3:
		d.Container, d.Permissions = parts[1], parts[2]
	case 2:
		if strings.Trim(parts[1], "rwm") == "" {
			d.Permissions = parts[1]
		} else {
			d.Container = parts[1]
		}
	case 1:
	default:
		return d, errclass.New(ErrInvalid, "invalid device %q", s)
	}
	if strings.Trim(d.Permissions, "rwm") != "" {
		return d, errclass.New(ErrInvalid, "invalid device permissions %q in %q", d.Permissions, s)
	}
	return d, nil
}

// deviceValue splits a block I/O flag's /dev/DEVICE:VALUE.
func deviceValue(v string) (path, value string, ok bool) {
	path, value, ok = strings.Cut(v, ":")
	return path, value, ok && strings.HasPrefix(path, "/dev/")
}

// ParseWeightDevice reads --blkio-weight-device's DEVICE:WEIGHT.
func ParseWeightDevice(v string) (runtime.WeightDevice, error) {
	path, w, ok := deviceValue(v)
	n, err := strconv.ParseUint(w, 10, 16)
	if !ok || err != nil {
		return runtime.WeightDevice{}, errclass.New(ErrInvalid, "invalid weight device %q: want /dev/DEVICE:WEIGHT", v)
	}
	return runtime.WeightDevice{Path: path, Weight: uint16(n)}, nil
}

// ParseThrottle reads --device-{read,write}-{bps,iops}'s DEVICE:RATE, a
// size (1mb) for bytes, a number for operations.
func ParseThrottle(v string, bytes bool) (runtime.ThrottleDevice, error) {
	path, r, ok := deviceValue(v)
	var rate int64
	var err error
	if bytes {
		rate, err = units.RAMInBytes(r)
	} else {
		rate, err = strconv.ParseInt(r, 10, 64)
	}
	if !ok || err != nil || rate < 0 {
		return runtime.ThrottleDevice{}, errclass.New(ErrInvalid, "invalid device rate %q: want /dev/DEVICE:RATE", v)
	}
	return runtime.ThrottleDevice{Path: path, Rate: uint64(rate)}, nil
}

// ReadEnvFile reads Docker's --env-file: KEY=VALUE lines, # comments,
// and a bare KEY that takes the caller's value. Values are taken as they
// are, quotes included, as Docker does.
func ReadEnvFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errclass.Wrap(ErrInvalid, err, fmt.Sprintf("env file %s: %v", path, err))
	}
	defer f.Close()
	var env []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimLeft(sc.Text(), " \t")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, _, _ := strings.Cut(line, "=")
		if k == "" || strings.ContainsAny(k, " \t") {
			return nil, errclass.New(ErrInvalid, "env file %s: line %d: variable %q contains whitespaces", path, n, k)
		}
		env = append(env, line)
	}
	return env, sc.Err()
}

// resolveGroups turns --group-add values (names or numbers) into GIDs from
// the image's /etc/group.
func resolveGroups(lowers []string, groups []string) ([]uint32, error) {
	var out []uint32
	db := readDB(lowers, "etc/group")
	for _, g := range groups {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			out = append(out, uint32(n))
			continue
		}
		found := false
		for _, f := range db {
			if len(f) > 2 && f[0] == g {
				n, _ := strconv.ParseUint(f[2], 10, 32)
				out, found = append(out, uint32(n)), true
				break
			}
		}
		if !found {
			return nil, errclass.New(ErrInvalid, "unable to find group %s: no matching entries in group file", g)
		}
	}
	return out, nil
}
