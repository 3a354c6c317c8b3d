package project

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-dev/berth/errclass"
)

// Project is a loaded compose project: compose-go's model, restricted to the
// enabled and selected services, plus what berth found it cannot honour.
type Project struct {
	*types.Project
	// Unsupported lists, in path order, every key of the enabled services and
	// of the project that berth does not honour yet. Commands that act on a
	// project print one warning per entry.
	Unsupported []Unsupported
	// EnvFiles are the environment files asked for with --env-file or
	// COMPOSE_ENV_FILES (not a default .env), as given: compose labels
	// the containers with them.
	EnvFiles []string
}

// Load reads a project exactly as `docker compose` does: the same compose-go
// options, applied in the same order, then the same post-processing (profiles,
// service selection, unused resources dropped, env_file merged into each
// service's environment).
func Load(ctx context.Context, o Options) (*Project, error) {
	var findings []loader.UnsupportedAttribute
	check := loader.WithSupportedAttributes(supportedPaths(), func(f []loader.UnsupportedAttribute) {
		findings = f
	})
	po, err := o.compose(cli.WithLoadOptions(check), cli.WithoutEnvironmentResolution)
	if err != nil {
		return nil, classify(err)
	}
	if err := checkFiles(po.ConfigPaths); err != nil {
		return nil, err
	}
	memo, memoable := memo(o.ValidatedCache, o, po)
	passed := memoable && memo.passed()
	if passed {
		if err := cli.WithLoadOptions(loader.WithSkipValidation)(po); err != nil {
			return nil, err
		}
	}
	m, err := safely(po.ConfigPaths, func() (*types.Project, error) { return po.LoadProject(ctx) })
	if err != nil {
		return nil, classify(inFiles(po, err))
	}
	if m.Name == "" {
		return nil, invalidf("project name can't be empty: use -p to set one")
	}
	if err := checkProfiles(m, o.Profiles); err != nil {
		return nil, err
	}
	if m, err = m.WithServicesEnabled(o.Services...); err != nil {
		return nil, classify(err)
	}
	if m, err = m.WithSelectedServices(o.Services); err != nil {
		return nil, classify(err)
	}
	if !o.All {
		m = m.WithoutUnnecessaryResources()
	}
	if !o.NoEnvResolution {
		if m, err = m.WithServicesEnvironmentResolved(true); err != nil {
			return nil, classify(err)
		}
	}
	if memoable && !passed {
		memo.remember()
	}
	p := &Project{Project: m, EnvFiles: o.envFiles()}
	p.Unsupported = p.keep(findings)
	return p, nil
}

// LoadModel reads the project's files into compose-go's raw model (a YAML
// tree), stopping before the typed model: what `config --no-interpolate` and
// `config --variables` render.
func LoadModel(ctx context.Context, o Options) (map[string]any, error) {
	po, err := o.compose(cli.WithoutEnvironmentResolution)
	if err != nil {
		return nil, classify(err)
	}
	if err := checkFiles(po.ConfigPaths); err != nil {
		return nil, err
	}
	model, err := safely(po.ConfigPaths, func() (map[string]any, error) { return po.LoadModel(ctx) })
	if err != nil {
		return nil, classify(inFiles(po, err))
	}
	return model, nil
}

// envFiles are the environment files asked for: --env-file, else
// COMPOSE_ENV_FILES (the default .env is compose-go's to find).
func (o Options) envFiles() []string {
	if len(o.EnvFiles) > 0 {
		return o.EnvFiles
	}
	return EnvList("COMPOSE_ENV_FILES")
}

// compose builds compose-go's options in docker compose's order. The order
// matters: the OS environment always wins; .env is read once from the working
// directory (to find COMPOSE_FILE) and again from the project directory once
// the files are known; COMPOSE_PROFILES is only known after both.
func (o Options) compose(extra ...cli.ProjectOptionsFn) (*cli.ProjectOptions, error) {
	fns := append([]cli.ProjectOptionsFn{
		cli.WithLoadOptions(boundVisits),
		cli.WithInterpolation(!o.NoInterpolate),
		cli.WithResolvedPaths(!o.NoResolvePaths),
		cli.WithNormalization(!o.NoNormalize),
		cli.WithConsistency(!o.NoConsistency),
		cli.WithDefaultProfiles(o.Profiles...),
		cli.WithDiscardEnvFile,
	}, extra...)
	fns = append(fns, cli.WithWorkingDirectory(o.ProjectDir), cli.WithOsEnv)
	if _, ok := os.LookupEnv("PWD"); !ok {
		if pwd, err := os.Getwd(); err == nil {
			fns = append(fns, cli.WithEnv([]string{"PWD=" + pwd}))
		}
	}
	envFiles := o.envFiles()
	fns = append(fns,
		cli.WithEnvFiles(envFiles...),
		cli.WithDotEnv,
		cli.WithConfigFileEnv,
		cli.WithDefaultConfigPath,
		cli.WithEnvFiles(envFiles...),
		cli.WithDotEnv,
		cli.WithDefaultProfiles(o.Profiles...),
		cli.WithName(o.Name),
	)
	return cli.NewProjectOptions(o.Files, fns...)
}

// keep drops findings about services that are not part of the loaded project
// (disabled by profile or not selected): they will not run, so a warning about
// them would only be noise.
func (p *Project) keep(findings []loader.UnsupportedAttribute) []Unsupported {
	var out []Unsupported
	for _, f := range findings {
		path := string(f.Path)
		if rest, ok := strings.CutPrefix(path, "services."); ok {
			name, _, _ := strings.Cut(rest, ".")
			if _, enabled := p.Services[name]; !enabled {
				continue
			}
		}
		out = append(out, newUnsupported(path))
	}
	return out
}

// ImageName is the image a service runs: its image: key, else the name that
// docker compose gives a built image, <project>-<service>.
func (p *Project) ImageName(s types.ServiceConfig) string {
	if s.Image != "" {
		return s.Image
	}
	return fmt.Sprintf("%s-%s", p.Name, s.Name)
}

// CheckServices refuses a service name the files do not have (enabled or
// in a profile not asked for), with docker compose's words: a typo on the
// command line is an error, never a command that does nothing.
func (p *Project) CheckServices(names ...string) error {
	for _, n := range names {
		if _, ok := p.Services[n]; ok {
			continue
		}
		if _, ok := p.DisabledServices[n]; ok {
			continue
		}
		return errclass.New(ErrNotFound, "no such service: %s", n)
	}
	return nil
}

// checkProfiles refuses a --profile that no service declares: compose-go
// would silently select nothing for it, which hides a typo.
func checkProfiles(m *types.Project, asked []string) error {
	known := map[string]bool{}
	for _, s := range m.AllServices() {
		for _, p := range s.Profiles {
			known[p] = true
		}
	}
	for _, p := range asked {
		if p != "*" && !known[p] {
			names := sortedKeys(known)
			if len(names) == 0 {
				return errclass.New(ErrNotFound, "no such profile: %q (no service has a profile)", p)
			}
			return errclass.New(ErrNotFound, "no such profile: %q (profiles: %s)", p, strings.Join(names, ", "))
		}
	}
	return nil
}

// inFiles makes sure a loading error names the compose files: compose-go
// names the file for syntax and schema errors but not for every semantic one.
func inFiles(po *cli.ProjectOptions, err error) error {
	msg := err.Error()
	for _, f := range po.ConfigPaths {
		if strings.Contains(msg, f) || strings.Contains(msg, filepath.Base(f)) {
			return err
		}
	}
	if len(po.ConfigPaths) == 0 {
		return err
	}
	return fmt.Errorf("%s: %w", strings.Join(po.ConfigPaths, ", "), err)
}
