package main

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/format"
	"github.com/berth-dev/berth/match"
	"github.com/berth-dev/berth/netns"
)

// networks opens the root's network store, its bridges and firewall in
// berth's own network namespace (the host's, where it turns on IPv4
// forwarding for networks that reach the outside, as Docker does) and its
// subnets from BERTH_ADDRESS_POOLS or the default pools.
func (g *globals) networks() (*netns.Store, func(), error) {
	return netns.OpenHost(filepath.Join(g.root, "networks"))
}

func newNetworkCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "network", Short: "Manage networks"}
	cmd.AddCommand(newNetworkCreateCmd(g), newNetworkLsCmd(g), newNetworkInspectCmd(g), newNetworkRmCmd(g), newNetworkPruneCmd(g),
		newNetworkConnectCmd(g), newNetworkDisconnectCmd(g))
	return cmd
}

func newNetworkCreateCmd(g *globals) *cobra.Command {
	var o netns.CreateOptions
	var subnets, gateways, ranges, labels, opts []string
	cmd := &cobra.Command{
		Use: "create [OPTIONS] NETWORK", Short: "Create a network", Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if len(subnets) > 1 || len(gateways) > 1 || len(ranges) > 1 {
				return usageError{errors.New("berth networks take one subnet, gateway and ip-range each")}
			}
			if len(gateways)+len(ranges) > 0 && len(subnets) == 0 {
				return usageError{errors.New("--gateway and --ip-range need --subnet")}
			}
			var err error
			for i, p := range subnets {
				if o.Subnet.Prefix, err = netip.ParsePrefix(p); err != nil {
					return usageError{fmt.Errorf("invalid subnet %s: %w", p, err)}
				}
				if i < len(gateways) {
					if o.Subnet.Gateway, err = netip.ParseAddr(gateways[i]); err != nil {
						return usageError{fmt.Errorf("invalid gateway %s: %w", gateways[i], err)}
					}
				}
				if i < len(ranges) {
					if o.Subnet.Range, err = netip.ParsePrefix(ranges[i]); err != nil {
						return usageError{fmt.Errorf("invalid ip-range %s: %w", ranges[i], err)}
					}
				}
			}
			if o.Labels, err = keyValues("--label", labels); err != nil {
				return err
			}
			if o.Options, err = keyValues("--opt", opts); err != nil {
				return err
			}
			s, done, err := g.networks()
			if err != nil {
				return err
			}
			defer done()
			n, err := s.Create(cmd.Context(), o)
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, n.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Driver, "driver", "d", "bridge", "Driver to manage the Network")
	f.StringArrayVar(&subnets, "subnet", nil, "Subnet in CIDR format that represents a network segment")
	f.StringArrayVar(&gateways, "gateway", nil, "IPv4 or IPv6 Gateway for the master subnet")
	f.StringArrayVar(&ranges, "ip-range", nil, "Allocate container ip from a sub-range")
	f.BoolVar(&o.Internal, "internal", false, "Restrict external access to the network")
	f.StringArrayVar(&labels, "label", nil, "Set metadata on a network")
	f.StringArrayVarP(&opts, "opt", "o", nil, "Set driver specific options")
	return cmd
}

// networkRow is a row of `network ls`, with Docker's field names.
type networkRow struct {
	labelled
	ID, Name, Driver, Scope, IPv6, Internal, CreatedAt, Labels string
}

func newNetworkLsCmd(g *globals) *cobra.Command {
	var quiet, noTrunc bool
	var fmtFlag string
	cmd := &cobra.Command{
		Use: "ls [OPTIONS]", Aliases: []string{"list"}, Short: "List networks", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, done, err := g.networks()
			if err != nil {
				return err
			}
			defer done()
			list, err := s.List()
			if err != nil {
				return err
			}
			var rows []any
			for _, n := range list {
				id := n.ID
				if !noTrunc {
					id = shortID(id)
				}
				if quiet {
					fmt.Fprintln(g.stdout, id)
					continue
				}
				rows = append(rows, networkRow{labelled: labelled{n.Labels}, ID: id, Name: n.Name, Driver: n.Driver, Scope: "local", IPv6: "false",
					Internal: fmt.Sprint(n.Internal), CreatedAt: n.Created.Format(time.RFC3339), Labels: labelList(n.Labels)})
			}
			if quiet {
				return nil
			}
			t := format.Table{Default: "{{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}", Headers: map[string]string{"ID": "NETWORK ID"}}
			return t.Write(g.stdout, fmtFlag, rows)
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Only display network IDs")
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "Do not truncate the output")
	cmd.Flags().StringVar(&fmtFlag, "format", "", "Format output using a custom template")
	return cmd
}

// networkDoc is `network inspect`'s document, in Docker's shape.
type networkDoc struct {
	Name       string
	Id         string // Docker's spelling
	Created    time.Time
	Scope      string
	Driver     string
	EnableIPv6 bool
	IPAM       struct {
		Driver  string
		Options map[string]string
		Config  []map[string]string
	}
	Internal   bool
	Attachable bool
	Ingress    bool
	Containers map[string]container.NetworkMember
	Options    map[string]string
	Labels     map[string]string
}

func newNetworkInspectCmd(g *globals) *cobra.Command {
	var tmpl string
	cmd := &cobra.Command{
		Use: "inspect [OPTIONS] NETWORK [NETWORK...]", Short: "Display detailed information on one or more networks", Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, done, err := g.networks()
			if err != nil {
				return err
			}
			defer done()
			_, entries, err := g.listContainers(cmd.Context())
			if err != nil {
				return err
			}
			return inspectAll(g, tmpl, args, func(ref string) (any, error) {
				n, err := s.Get(ref)
				if err != nil {
					return nil, err
				}
				d := networkDoc{Name: n.Name, Id: n.ID, Created: n.Created, Scope: "local", Driver: n.Driver, Internal: n.Internal,
					Containers: container.NetworkMembers(entries, n.ID), Options: nonNil(n.Options), Labels: nonNil(n.Labels)}
				d.IPAM.Driver, d.IPAM.Options = "default", map[string]string{}
				cfg := map[string]string{"Subnet": n.Subnet.Prefix.String(), "Gateway": n.Subnet.Gateway.String()}
				if n.Subnet.Range.IsValid() {
					cfg["IPRange"] = n.Subnet.Range.String()
				}
				d.IPAM.Config = []map[string]string{cfg}
				return d, nil
			})
		},
	}
	cmd.Flags().StringVarP(&tmpl, "format", "f", "", "Format output using a custom template")
	return cmd
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func newNetworkRmCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use: "rm NETWORK [NETWORK...]", Aliases: []string{"remove"}, Short: "Remove one or more networks", Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, done, err := g.networks()
			if err != nil {
				return err
			}
			defer done()
			m, err := g.containers()
			if err != nil {
				return err
			}
			users := func(network string) ([]string, error) { return m.NetworkUsers(cmd.Context(), network) }
			return eachRef(g, args, func(ref string) error {
				_, err := s.Remove(cmd.Context(), ref, users)
				if force && errors.Is(err, netns.ErrNotFound) {
					return errGone
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not error if the network does not exist")
	return cmd
}

func newNetworkPruneCmd(g *globals) *cobra.Command {
	var force bool
	var filters []string
	cmd := &cobra.Command{
		Use: "prune [OPTIONS]", Short: "Remove all unused networks", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			keep, err := pruneFilter(filters, time.Now())
			if err != nil {
				return usageError{err}
			}
			if !force && !confirm(g, "WARNING! This will remove all custom networks not used by at least one container.") {
				return nil
			}
			s, done, err := g.networks()
			if err != nil {
				return err
			}
			defer done()
			m, err := g.containers()
			if err != nil {
				return err
			}
			used, err := m.NetworksInUse()
			if err != nil {
				return err
			}
			list, err := s.List()
			if err != nil {
				return err
			}
			var removed []string
			for _, n := range list {
				if used[n.Name] || used[n.ID] || n.IsDefault() || !keep(n) {
					continue
				}
				if _, err := s.Remove(cmd.Context(), n.ID, nil); err != nil {
					return err
				}
				removed = append(removed, n.Name)
			}
			printDeleted(g, "Networks", removed)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "Provide filter values")
	return cmd
}

func newNetworkConnectCmd(g *globals) *cobra.Command {
	var aliases []string
	var ip string
	cmd := &cobra.Command{
		Use: "connect [OPTIONS] NETWORK CONTAINER", Short: "Connect a container to a network", Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var addr netip.Addr
			if ip != "" {
				var err error
				if addr, err = netip.ParseAddr(ip); err != nil || !addr.Is4() {
					return usageError{fmt.Errorf("invalid IPv4 address: %s", ip)}
				}
			}
			m, err := g.containers()
			if err != nil {
				return err
			}
			return m.Connect(cmd.Context(), args[1], args[0], addr, aliases)
		},
	}
	cmd.Flags().StringArrayVar(&aliases, "alias", nil, "Add network-scoped alias for the container")
	cmd.Flags().StringVar(&ip, "ip", "", "IPv4 address (e.g., \"172.30.100.104\")")
	return cmd
}

func newNetworkDisconnectCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use: "disconnect [OPTIONS] NETWORK CONTAINER", Short: "Disconnect a container from a network", Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := g.containers()
			if err != nil {
				return err
			}
			return m.Disconnect(cmd.Context(), args[1], args[0])
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the container to disconnect from a network")
	return cmd
}

// pruneFilter reads network prune's filters: until=TIME (a timestamp or a
// duration before now: only networks created before it), label=KEY[=VALUE]
// and label!=KEY[=VALUE].
func pruneFilter(filters []string, now time.Time) (func(netns.Network) bool, error) {
	var tests []func(netns.Network) bool
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("bad format of filter (expected name=value): %s", f)
		}
		switch k {
		case "until":
			until, err := parseTimeAt(v, "filter until", now)
			if err != nil {
				return nil, err
			}
			tests = append(tests, func(n netns.Network) bool { return n.Created.Before(until) })
		case "label":
			tests = append(tests, func(n netns.Network) bool { return match.Label(n.Labels, v) })
		case "label!":
			tests = append(tests, func(n netns.Network) bool { return !match.Label(n.Labels, v) })
		default:
			return nil, fmt.Errorf("invalid filter '%s'", k)
		}
	}
	return func(n netns.Network) bool {
		for _, t := range tests {
			if !t(n) {
				return false
			}
		}
		return true
	}, nil
}
