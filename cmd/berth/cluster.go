package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/format"
	"github.com/berth-dev/berth/kube"
)

// clusterCommands are the commands a Kubernetes context (--context) runs
// on the cluster; the others refuse it, rather than act on this machine.
var clusterCommands = map[string]bool{"up": true, "ps": true, "logs": true, "exec": true, "down": true,
	"config": true, "convert": true, "version": true, "help": true, "completion": true}

// onCluster says whether --context (or BERTH_CONTEXT) sends the project
// commands to a Kubernetes cluster.
func (g *globals) onCluster() bool { return g.context != "" }

// checkCluster refuses, on a Kubernetes context, a command the cluster
// backend does not do.
func (g *globals) checkCluster(cmd *cobra.Command) error {
	if !g.onCluster() || !cmd.HasParent() {
		return nil
	}
	top := cmd
	for top.HasParent() && top.Parent().HasParent() {
		top = top.Parent()
	}
	if clusterCommands[top.Name()] && top == cmd {
		return nil
	}
	return kube.Unsupported(strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" "))
}

// clusterFlags refuses, on a Kubernetes context, the flags of cmd other
// than those the cluster backend honours: none is ignored in silence.
func clusterFlags(cmd *cobra.Command, honoured ...string) error {
	var err error
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if err == nil && !slices.Contains(honoured, f.Name) {
			err = kube.Unsupported(cmd.Name() + " --" + f.Name)
		}
	})
	return err
}

// mappingFlags are the choices of the Kubernetes mapping that convert
// --to kubernetes and up on a context share; when says when they apply.
var mappingFlags = []string{"publish-as", "storage-class", "bind-as-configmap"}

func addMappingFlags(f *pflag.FlagSet, ko *kube.Options, when string) {
	f.StringVar(&ko.PublishAs, "publish-as", kube.PublishNodePort, when+": Service type for published ports. Values: [nodeport | loadbalancer]")
	f.StringVar(&ko.StorageClass, "storage-class", "", when+": storage class of the volume claims (default: the cluster's)")
	f.BoolVar(&ko.BindAsConfigMap, "bind-as-configmap", false, when+": make a bind mount of a file of at most 1 MiB a ConfigMap")
}

// checkMapping refuses, with one line, a mapping flag without what it
// needs, and a Service type the mapping does not make.
func checkMapping(cmd *cobra.Command, ko kube.Options, applies bool, needs string) error {
	for _, n := range mappingFlags {
		if cmd.Flags().Changed(n) && !applies {
			return usageError{fmt.Errorf("--%s needs %s", n, needs)}
		}
	}
	if cmd.Flags().Changed("publish-as") && ko.PublishAs != kube.PublishNodePort && ko.PublishAs != kube.PublishLoadBalancer {
		return usageError{fmt.Errorf("--publish-as must be nodeport or loadbalancer, not %q", ko.PublishAs)}
	}
	return nil
}

// cluster opens the cluster of the context, reporting as the local
// engine does.
func (g *globals) cluster() (*kube.Cluster, error) {
	c, err := kube.Open(g.context)
	if err != nil {
		return nil, err
	}
	c.Report = g.reporter()
	c.Warn = func(s string) { fmt.Fprintf(g.stderr, "warning: %s\n", s) }
	return c, nil
}

// clusterBuilder gives the cluster e the local engine to build and push
// with (up --build --push), reporting through the cluster's display.
func (g *globals) clusterBuilder(e api.Service) (bool, error) {
	k, ok := e.(*kube.Cluster)
	if !ok {
		return false, nil
	}
	local, err := g.localEngine()
	if err != nil {
		return false, err
	}
	local.Report = k.Report
	k.Builder = local
	return true, nil
}

// clusterPs is ps on a cluster: a row per pod.
func (g *globals) clusterPs(ctx context.Context, k *kube.Cluster, name string, services []string, fmtFlag string, quiet, names bool) error {
	pods, err := k.Ps(ctx, name, services)
	if err != nil {
		return err
	}
	var rows []any
	seen := map[string]bool{}
	for _, p := range pods {
		switch {
		case names:
			if !seen[p.Service] {
				seen[p.Service] = true
				fmt.Fprintln(g.stdout, p.Service)
			}
		case quiet:
			fmt.Fprintln(g.stdout, p.Name)
		default:
			rows = append(rows, p)
		}
	}
	if quiet || names {
		return nil
	}
	t := format.Table{Default: "{{.Name}}\t{{.Image}}\t{{.Service}}\t{{.Created}}\t{{.Status}}\t{{.Restarts}}\t{{.Ports}}"}
	return t.Write(g.stdout, fmtFlag, rows)
}
