package container

import (
	"context"

	"github.com/berth-dev/berth/disk"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/volumes"
)

// ContainerSize is a container and what its writable layer takes.
type ContainerSize struct {
	record.Entry
	Size int64
}

// VolumeSize is a volume, how many containers use it, and what it takes.
type VolumeSize struct {
	volumes.Volume
	Links int
	Size  int64
}

// DiskUsage is what the containers' writable layers and the volumes take,
// each and in all, as docker system df counts them.
type DiskUsage struct {
	Containers []ContainerSize
	Volumes    []VolumeSize
	// ContainersUsed counts a running container as active, and what the
	// others take as reclaimable; VolumesUsed a volume that a container
	// uses.
	ContainersUsed, VolumesUsed disk.Usage
}

// DiskUsage measures the containers and volumes for system df. A record
// that cannot be read fails it, rather than making a volume look unused.
func (m *Manager) DiskUsage(ctx context.Context) (DiskUsage, error) {
	var du DiskUsage
	entries, err := m.List(ctx)
	if err != nil {
		return du, err
	}
	for _, e := range entries {
		c := ContainerSize{Entry: e, Size: disk.Size(e.Record.Spec.Rootfs.Upper)}
		du.Containers = append(du.Containers, c)
		du.ContainersUsed.Add(c.Size, e.State.Running())
	}
	vols, err := m.Volumes.List()
	if err != nil {
		return du, err
	}
	// one look at every container for every volume's users
	inUse, err := m.VolumesInUse()
	if err != nil {
		return du, err
	}
	for _, v := range vols {
		vs := VolumeSize{Volume: v, Links: len(inUse[v.Name]), Size: disk.Size(v.Mountpoint)}
		du.Volumes = append(du.Volumes, vs)
		du.VolumesUsed.Add(vs.Size, vs.Links > 0)
	}
	return du, nil
}
