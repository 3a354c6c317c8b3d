package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/project"
)

// A command that a later issue implements is declared here with the flags it
// will take, so that --help is already right and scripts fail loudly (exit 1,
// "not implemented yet") instead of doing nothing.

// flag declares one flag of a planned command.
type flag struct {
	name, short, usage string
	value              any // bool, string, time.Duration or []string (repeatable)
}

func b(name, short, usage string) flag    { return flag{name, short, usage, false} }
func list(name, short, usage string) flag { return flag{name, short, usage, []string{}} }

// cmdSpec is a planned command: cobra's Use and Short, its flags, and whether
// it acts on the compose project (then it loads the project first, so a broken
// file or an unsupported key is reported today).
type cmdSpec struct {
	use, short  string
	aliases     []string
	loads       bool
	flags       []flag
	subcommands []cmdSpec
}

func (c cmdSpec) build(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: c.use, Short: c.short, Aliases: c.aliases}
	for _, sub := range c.subcommands {
		cmd.AddCommand(sub.build(g))
	}
	if len(c.subcommands) > 0 {
		return cmd // a group: cobra prints its help
	}
	for _, f := range c.flags {
		fs := cmd.Flags()
		if f.short == "h" {
			// As in Docker's CLI, -h is --hostname here; help is --help only.
			fs.Bool("help", false, "help for "+cmd.Name())
		}
		switch v := f.value.(type) {
		case bool:
			fs.BoolP(f.name, f.short, v, f.usage)
		case string:
			fs.StringP(f.name, f.short, v, f.usage)
		case time.Duration:
			fs.DurationP(f.name, f.short, v, f.usage)
		case []string:
			fs.StringArrayP(f.name, f.short, v, f.usage)
		default:
			panic(fmt.Sprintf("flag %s: unknown kind %T", f.name, v))
		}
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if c.loads {
			p, err := project.Load(cmd.Context(), g.projectOptions())
			if err != nil {
				return err
			}
			g.warn(p)
		}
		return fmt.Errorf("%s: %w", strings.TrimPrefix(cmd.CommandPath(), "berth "), errNotImplemented)
	}
	return cmd
}

func buildAll(g *globals, specs []cmdSpec) []*cobra.Command {
	out := make([]*cobra.Command, 0, len(specs))
	for _, c := range specs {
		out = append(out, c.build(g))
	}
	return out
}
