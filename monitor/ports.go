package monitor

import (
	"context"
	"fmt"

	"github.com/berth-dev/berth/netns"
	"github.com/berth-dev/berth/record"
)

// publish takes the container's host ports and sends them to its address
// on the first of its networks that reaches the outside; it returns the
// bindings, the reservation that holds the ports, and what gives them up
// again. A container whose networks are all internal publishes nothing, as
// in Docker.
func publish(ctx context.Context, root string, rec record.Record, eps map[string]record.Endpoint) ([]netns.Binding, *netns.Reservation, func(), error) {
	if len(rec.Host.Ports) == 0 || len(eps) == 0 {
		return nil, nil, func() {}, nil
	}
	s, done, err := NetworkStore(root)
	if err != nil {
		return nil, nil, nil, err
	}
	defer done()
	var target record.Endpoint
	for _, name := range rec.Host.Networks {
		if n, err := s.Get(name); err == nil && !n.Internal {
			target = eps[name]
			break
		}
	}
	if target.NetworkID == "" {
		return nil, nil, func() {}, nil
	}
	bindings, res, err := netns.Reserve(rec.Host.Ports)
	if err != nil {
		return nil, nil, nil, err
	}
	pub := netns.Published{Network: target.NetworkID, Address: target.Address.Addr(), Bindings: bindings}
	if err := s.Publish(ctx, rec.ID, pub); err != nil {
		res.Release()
		return nil, nil, nil, fmt.Errorf("publishing ports: %w", err)
	}
	return bindings, res, func() {
		if s, done, err := NetworkStore(root); err == nil {
			s.Unpublish(context.WithoutCancel(ctx), rec.ID)
			done()
		}
		res.Release()
	}, nil
}
