package runtime

import (
	"fmt"

	"github.com/opencontainers/runc/libcontainer"
)

// Usage is a container's resource use, read from its cgroup.
type Usage struct {
	CPUNanos    uint64 // CPU time used, all CPUs
	Memory      uint64 // bytes in use, page cache excluded where the kernel says
	MemoryLimit uint64 // bytes; 0 when unlimited
	Pids        uint64
	BlockRead   uint64
	BlockWrite  uint64
}

// Stats reads the resource use of the running container id.
func (r *Runtime) Stats(id string) (Usage, error) {
	lc, err := libcontainer.Load(r.state, id)
	if err != nil {
		return Usage{}, fmt.Errorf("container %s: %w", id, ErrNotFound)
	}
	st, err := lc.Stats()
	if err != nil || st.CgroupStats == nil {
		return Usage{}, fmt.Errorf("reading the cgroup of %s: %w", id, err)
	}
	cg := st.CgroupStats
	u := Usage{
		CPUNanos: cg.CpuStats.CpuUsage.TotalUsage,
		Memory:   cg.MemoryStats.Usage.Usage,
		Pids:     cg.PidsStats.Current,
	}
	// Docker subtracts the inactive page cache, which the kernel can drop
	if inactive, ok := cg.MemoryStats.Stats["total_inactive_file"]; ok && inactive < u.Memory {
		u.Memory -= inactive
	} else if inactive, ok := cg.MemoryStats.Stats["inactive_file"]; ok && inactive < u.Memory {
		u.Memory -= inactive
	}
	if l := cg.MemoryStats.Usage.Limit; l > 0 && l < 1<<62 {
		u.MemoryLimit = l
	}
	for _, e := range cg.BlkioStats.IoServiceBytesRecursive {
		switch e.Op {
		case "Read", "read":
			u.BlockRead += e.Value
		case "Write", "write":
			u.BlockWrite += e.Value
		}
	}
	return u, nil
}

// Processes lists the host PIDs of every process in the container id.
func (r *Runtime) Processes(id string) ([]int, error) {
	lc, err := libcontainer.Load(r.state, id)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", id, ErrNotFound)
	}
	return lc.Processes()
}
