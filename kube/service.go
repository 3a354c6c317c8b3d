package kube

import (
	"context"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/proc"
	"github.com/berth-dev/berth/project"
	"github.com/berth-dev/berth/watch"
)

// The operations the cluster backend does not do yet: each fails with
// one line naming its command.
var _ api.Service = (*Cluster)(nil)

func (c *Cluster) Attach(context.Context, string, api.AttachOptions, api.LogConsumer) (int, error) {
	return 0, Unsupported("up (attached: use up -d)")
}
func (c *Cluster) Start(context.Context, string, []string) error { return Unsupported("start") }
func (c *Cluster) Stop(context.Context, string, []string, *int) error {
	return Unsupported("stop")
}
func (c *Cluster) Restart(context.Context, string, []string, bool, *int) error {
	return Unsupported("restart")
}
func (c *Cluster) Pause(context.Context, string, []string) error   { return Unsupported("pause") }
func (c *Cluster) Unpause(context.Context, string, []string) error { return Unsupported("unpause") }
func (c *Cluster) Kill(context.Context, string, []string, string) error {
	return Unsupported("kill")
}
func (c *Cluster) Remove(context.Context, string, []string, api.RemoveOptions) error {
	return Unsupported("rm")
}
func (c *Cluster) Members(context.Context, string, ...string) ([]api.Member, error) {
	return nil, Unsupported("this command")
}
func (c *Cluster) Projects(context.Context, bool) ([]api.Stack, error) {
	return nil, Unsupported("ls")
}
func (c *Cluster) ServiceContainer(context.Context, string, string, int) (api.Member, error) {
	return api.Member{}, Unsupported("port")
}
func (c *Cluster) Events(context.Context, string, []string, func(api.Event) error) error {
	return Unsupported("events")
}
func (c *Cluster) Top(context.Context, string, []string) ([]api.ContainerTop, error) {
	return nil, Unsupported("top")
}
func (c *Cluster) Stats(context.Context, string, api.StatsOptions) ([]proc.StatsRow, error) {
	return nil, Unsupported("stats")
}
func (c *Cluster) Run(context.Context, *project.Project, string, api.RunOptions, proc.Streams) (api.RunResult, error) {
	return api.RunResult{}, Unsupported("run")
}
func (c *Cluster) AttachContainer(context.Context, string, string, int, proc.AttachOptions) (int, error) {
	return 0, Unsupported("attach")
}
func (c *Cluster) Copy(context.Context, string, string, string, int, proc.CopyOptions) error {
	return Unsupported("cp")
}
func (c *Cluster) WaitExits(context.Context, string, []string, func(api.Member, int) error) error {
	return Unsupported("wait")
}
func (c *Cluster) Pull(context.Context, *project.Project, []string, api.PullOptions) error {
	return Unsupported("pull")
}
func (c *Cluster) Push(context.Context, *project.Project, []string, api.PushOptions) error {
	return Unsupported("push")
}
func (c *Cluster) Images(context.Context, string, []string) ([]api.ImageSummary, error) {
	return nil, Unsupported("images")
}
func (c *Cluster) Build(context.Context, *project.Project, []string, api.BuildOptions) (map[string]string, error) {
	return nil, Unsupported("build")
}
func (c *Cluster) Watch(context.Context, *project.Project, []watch.Rule, api.WatchOptions) error {
	return Unsupported("watch")
}
