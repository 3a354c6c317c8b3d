package project

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/compose-spec/compose-go/v2/template"
	"gopkg.in/yaml.v3"
)

// ConfigOptions are the flags of `config`. At most one of the listing
// switches takes effect, in the order docker compose checks them:
// ListServices, ListVolumes, ListNetworks, Hash, ListProfiles, ListImages, ListVariables,
// ListEnvironment; none renders the
// whole project.
type ConfigOptions struct {
	Options
	// Format is yaml or json; "" is yaml, except for ListVariables where it is a table.
	Format string
	// Output writes the rendered project to this file instead of w.
	Output string
	// Quiet only validates.
	Quiet bool

	ListServices    bool
	ListVolumes     bool
	ListNetworks    bool
	Hash            string // "*" or comma-separated service names
	ListProfiles    bool
	ListImages      bool
	ListVariables   bool
	ListEnvironment bool
}

// WriteConfig does what `docker compose config` does with the same flags and
// writes the same bytes to w. Where docker compose prints in Go's random map
// order (--services among independent services, --volumes, --images,
// --variables) berth prints sorted, which is one of the orders docker compose
// can print.
//
// One deliberate difference: --hash hashes services with env_file merged into
// environment, the form `up` hashes to decide recreation, so that the printed
// hash is the one that decides. docker compose hashes env_file's path there;
// files without env_file hash the same in both.
func WriteConfig(ctx context.Context, o ConfigOptions, args []string, w io.Writer) error {
	if o.Quiet {
		w = io.Discard
	}
	switch {
	case o.ListServices:
		return writeServices(ctx, o, w)
	case o.ListVolumes:
		o.NoEnvResolution = true
		p, err := Load(ctx, o.Options)
		if err != nil {
			return err
		}
		return writeLines(w, sortedKeys(p.Volumes))
	case o.ListNetworks:
		o.NoEnvResolution = true
		p, err := Load(ctx, o.Options)
		if err != nil {
			return err
		}
		return writeLines(w, sortedKeys(p.Networks))
	case o.Hash != "":
		return writeHashes(ctx, o, w)
	case o.ListProfiles:
		return writeProfiles(ctx, o, args, w)
	case o.ListImages:
		o.Options.Services = args
		o.NoEnvResolution = true
		p, err := Load(ctx, o.Options)
		if err != nil {
			return err
		}
		var images []string
		for _, name := range sortedKeys(p.Services) {
			images = append(images, p.ImageName(p.Services[name]))
		}
		return writeLines(w, images)
	case o.ListVariables:
		return writeVariables(ctx, o, args, w)
	case o.ListEnvironment:
		o.Options.Services = args
		p, err := Load(ctx, o.Options)
		if err != nil {
			return err
		}
		return writeLines(w, p.Environment.Values())
	}
	return writeProject(ctx, o, args, w)
}

func writeProject(ctx context.Context, o ConfigOptions, args []string, w io.Writer) error {
	format := cmp.Or(o.Format, "yaml")
	var content []byte
	if o.NoInterpolate {
		model, err := LoadModel(ctx, o.Options)
		if err != nil {
			return err
		}
		if content, err = marshalModel(model, format); err != nil {
			return err
		}
	} else {
		o.Options.Services = args
		p, err := Load(ctx, o.Options)
		if err != nil {
			return err
		}
		if !o.NoConsistency {
			if err := p.CheckContainerNameUnicity(); err != nil {
				return classify(err)
			}
		}
		switch format {
		case "json":
			content, err = p.MarshalJSON()
		case "yaml":
			content, err = p.MarshalYAML()
		default:
			return invalidf("unsupported format %q", format)
		}
		if err != nil {
			return fmt.Errorf("rendering project %q: %w", p.Name, err)
		}
		// The rendered model is interpolated: a literal $ must be escaped so
		// that loading the output again gives the same project.
		content = bytes.ReplaceAll(content, []byte("$"), []byte("$$"))
	}
	if o.Quiet {
		return nil
	}
	if o.Output != "" && len(content) > 0 {
		if err := os.WriteFile(o.Output, content, 0o666); err != nil {
			return fmt.Errorf("writing %q: %w", o.Output, err)
		}
		return nil
	}
	_, err := w.Write(content)
	return err
}

func marshalModel(model map[string]any, format string) ([]byte, error) {
	switch format {
	case "json":
		return json.MarshalIndent(model, "", "  ")
	case "yaml":
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(model); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	return nil, invalidf("unsupported format %q", format)
}

// writeServices lists every service, each after the services it depends on.
func writeServices(ctx context.Context, o ConfigOptions, w io.Writer) error {
	if o.NoInterpolate {
		model, err := LoadModel(ctx, o.Options)
		if err != nil {
			return err
		}
		services, _ := model["services"].(map[string]any)
		return writeLines(w, sortedKeys(services))
	}
	o.NoEnvResolution = true
	p, err := Load(ctx, o.Options)
	if err != nil {
		return err
	}
	g, err := NewGraph(p.Project)
	if err != nil {
		return err
	}
	// One visit at a time: the walk's order is the dependency order to print.
	return g.Walk(ctx, WalkOptions{Parallel: 1}, func(_ context.Context, name string) error {
		_, err := fmt.Fprintln(w, name)
		return err
	})
}

func writeHashes(ctx context.Context, o ConfigOptions, w io.Writer) error {
	p, err := Load(ctx, o.Options)
	if err != nil {
		return err
	}
	if err := applyDefaultPlatform(p.Project); err != nil {
		return err
	}
	names := p.ServiceNames()
	if o.Hash != "*" {
		names = strings.Split(o.Hash, ",")
	}
	slices.Sort(names)
	for _, name := range names {
		s, err := p.GetService(name)
		if err != nil {
			return classify(err)
		}
		h, err := ServiceHash(s)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "%s %s\n", name, h); err != nil {
			return err
		}
	}
	return nil
}

func writeProfiles(ctx context.Context, o ConfigOptions, args []string, w io.Writer) error {
	o.Options.Services = args
	o.NoEnvResolution = true
	p, err := Load(ctx, o.Options)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	for _, s := range p.AllServices() {
		for _, pr := range s.Profiles {
			set[pr] = true
		}
	}
	return writeLines(w, sortedKeys(set))
}

func writeVariables(ctx context.Context, o ConfigOptions, args []string, w io.Writer) error {
	o.NoInterpolate = true
	o.Options.Services = args
	model, err := LoadModel(ctx, o.Options)
	if err != nil {
		return err
	}
	vars := template.ExtractVariables(model, template.DefaultPattern)
	switch strings.ToLower(o.Format) {
	case "yaml":
		out, err := yaml.Marshal(vars)
		if err != nil {
			return err
		}
		_, err = w.Write(out)
		return err
	case "json":
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "    ")
		return enc.Encode(vars)
	case "", "table", "pretty":
		// docker compose's pretty table: tabwriter(20, 1, 3, ' ').
		tw := tabwriter.NewWriter(w, 20, 1, 3, ' ', 0)
		fmt.Fprintln(tw, "NAME\tREQUIRED\tDEFAULT VALUE\tALTERNATE VALUE")
		for _, name := range sortedKeys(vars) {
			v := vars[name]
			fmt.Fprintf(tw, "%s\t%t\t%s\t%s\n", name, v.Required, v.DefaultValue, v.PresenceValue)
		}
		return tw.Flush()
	}
	return invalidf("format value %q could not be parsed", o.Format)
}

func writeLines(w io.Writer, lines []string) error {
	for _, l := range lines {
		if _, err := fmt.Fprintln(w, l); err != nil {
			return err
		}
	}
	return nil
}
