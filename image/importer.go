package image

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/mattn/go-shellwords"

	"github.com/berth-dev/berth/tarfs"
)

// ImportOptions shape an import.
type ImportOptions struct {
	// Changes are Dockerfile instructions applied to the config, as with
	// `docker import --change`: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD,
	// STOPSIGNAL, USER, VOLUME, WORKDIR, HEALTHCHECK.
	Changes []string
	// Message is the history comment.
	Message string
	// Name is the reference to write; empty leaves the image known by its ID.
	Name string
}

// Import makes a one-layer image from a root filesystem: src is a tar stream
// (plain, gzip or zstd) or, with dir set, a directory whose tree is archived
// with owners, modes, times, links and xattrs. It returns the reference
// written (the image ID when no name was given).
func Import(ctx context.Context, s *Store, snaps *Snapshots, src io.Reader, dir string, o ImportOptions) (string, error) {
	cfg, full, err := configAndName(v1.Config{}, o.Changes, o.Name)
	if err != nil {
		return "", err
	}
	unlock, err := s.lockShared(ctx)
	if err != nil {
		return "", err
	}
	defer unlock()
	layer, diffID, err := storeLayer(ctx, s, func(w io.Writer) error {
		if dir != "" {
			return tarfs.Write(ctx, dir, "", w)
		}
		rc, err := decompress(src)
		if err != nil {
			return err
		}
		defer rc.Close()
		_, err = io.Copy(w, contextReader{ctx, rc})
		return err
	})
	if err != nil {
		return "", err
	}
	now := time.Now().UTC()
	cf := v1.ConfigFile{
		Architecture: runtime.GOARCH, OS: "linux", Created: v1.Time{Time: now}, Config: cfg,
		RootFS:  v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{diffID}},
		History: []v1.History{{Created: v1.Time{Time: now}, CreatedBy: "berth import", Comment: cmp.Or(o.Message, "Imported from -")}},
	}
	return storeImage(ctx, s, snaps, cf, nil, []v1.Descriptor{layer}, full)
}

// CommitOptions shape Commit.
type CommitOptions struct {
	// Config is the new image's config (the container's command,
	// environment, ...); Changes are applied on top.
	Config  v1.Config
	Changes []string
	Author  string
	Message string
	// CreatedBy records what made the layer.
	CreatedBy string
	Name      string
}

// Commit makes a new image from base plus one layer, the tar stream that
// write produces (a container's changes), and returns its reference (the
// image ID when no name was given).
func Commit(ctx context.Context, s *Store, snaps *Snapshots, base v1.Image, write func(io.Writer) error, o CommitOptions) (string, error) {
	cfg, full, err := configAndName(o.Config, o.Changes, o.Name)
	if err != nil {
		return "", err
	}
	unlock, err := s.lockShared(ctx)
	if err != nil {
		return "", err
	}
	defer unlock()
	bm, err := base.Manifest()
	if err != nil {
		return "", err
	}
	bcf, err := base.ConfigFile()
	if err != nil {
		return "", err
	}
	layer, diffID, err := storeLayer(ctx, s, write)
	if err != nil {
		return "", err
	}
	now := time.Now().UTC()
	cf := bcf.DeepCopy()
	cf.Config, cf.Created, cf.Author = cfg, v1.Time{Time: now}, o.Author
	cf.RootFS.DiffIDs = append(cf.RootFS.DiffIDs, diffID)
	cf.History = append(cf.History, v1.History{Created: v1.Time{Time: now}, Author: o.Author, CreatedBy: o.CreatedBy, Comment: o.Message})
	return storeImage(ctx, s, snaps, *cf, nil, append(slices.Clone(bm.Layers), layer), full)
}

// configAndName applies --change instructions to cfg and normalizes the
// name the new image gets ("" for none).
func configAndName(cfg v1.Config, changes []string, name string) (v1.Config, string, error) {
	for _, c := range changes {
		if err := applyChange(&cfg, c); err != nil {
			return cfg, "", err
		}
	}
	if name == "" {
		return cfg, "", nil
	}
	r, err := ParseReference(name)
	if err != nil {
		return cfg, "", err
	}
	return cfg, FullName(r), nil
}

// storeLayer stores the tar stream write produces as a gzip layer,
// compressing into a temporary file while hashing both forms (the blob
// digest and the diff ID). The caller holds the store's shared lock.
func storeLayer(ctx context.Context, s *Store, write func(io.Writer) error) (v1.Descriptor, v1.Hash, error) {
	tmp, err := os.CreateTemp(filepath.Join(s.dir, "ingest"), "layer-*")
	if err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	blobSum, diffSum := sha256.New(), sha256.New()
	gz := gzip.NewWriter(io.MultiWriter(tmp, blobSum))
	if err := write(io.MultiWriter(gz, diffSum)); err != nil {
		return v1.Descriptor{}, v1.Hash{}, wrap(ErrInvalid, err, fmt.Sprintf("making a layer: %v", oneLine(err.Error())))
	}
	if err := gz.Close(); err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	size, _ := tmp.Seek(0, io.SeekCurrent)
	digest := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(blobSum.Sum(nil))}
	diffID := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diffSum.Sum(nil))}
	if err := s.Ingest(ctx, digest, size, func() (io.ReadCloser, error) { return os.Open(tmp.Name()) }); err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	return v1.Descriptor{MediaType: types.OCILayer, Digest: digest, Size: size}, diffID, nil
}

// storeImage writes cf and a manifest of layers, unpacks the layers, and
// names the image full (its ID when full is empty). extra are top-level
// fields of the config besides cf's.
func storeImage(ctx context.Context, s *Store, snaps *Snapshots, cf v1.ConfigFile, extra map[string]any, layers []v1.Descriptor, full string) (string, error) {
	cfgRaw, err := json.Marshal(cf)
	if err != nil {
		return "", err
	}
	if len(extra) > 0 {
		fields := map[string]json.RawMessage{}
		if err := json.Unmarshal(cfgRaw, &fields); err != nil {
			return "", err
		}
		for k, v := range extra {
			if fields[k], err = json.Marshal(v); err != nil {
				return "", err
			}
		}
		if cfgRaw, err = json.Marshal(fields); err != nil {
			return "", err
		}
	}
	cfgDesc, err := s.WriteBlobBytes(ctx, types.OCIConfigJSON, cfgRaw)
	if err != nil {
		return "", err
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: cfgDesc, Layers: layers}
	raw, _ := json.Marshal(m)
	md, err := s.WriteBlobBytes(ctx, types.OCIManifestSchema1, raw)
	if err != nil {
		return "", err
	}
	img, err := s.Image(md.Digest)
	if err != nil {
		return "", err
	}
	if err := snaps.Prepare(ctx, s, img, nil); err != nil {
		return "", err
	}
	if full == "" {
		full = cfgDesc.Digest.String()
	}
	if err := s.SetRef(ctx, full, md); err != nil {
		return "", err
	}
	return full, nil
}

// applyChange applies one Dockerfile instruction to cfg.
func applyChange(cfg *v1.Config, change string) error {
	instr, rest, _ := strings.Cut(strings.TrimSpace(change), " ")
	rest = strings.TrimSpace(rest)
	bad := func(why string) error {
		return wrap(ErrInvalid, nil, fmt.Sprintf("--change %q: %s", change, why))
	}
	// JSON form (CMD ["a","b"]) or shell form (CMD a b -> sh -c "a b").
	command := func() ([]string, error) {
		if strings.HasPrefix(rest, "[") {
			var argv []string
			if err := json.Unmarshal([]byte(rest), &argv); err != nil {
				return nil, bad("not a JSON array of strings")
			}
			return argv, nil
		}
		return []string{"/bin/sh", "-c", rest}, nil
	}
	pairs := func() (map[string]string, error) {
		words, err := shellwords.Parse(rest)
		if err != nil {
			return nil, bad(err.Error())
		}
		out := map[string]string{}
		if len(words) >= 2 && !strings.Contains(words[0], "=") { // ENV KEY value
			out[words[0]] = strings.Join(words[1:], " ")
			return out, nil
		}
		for _, w := range words {
			k, v, ok := strings.Cut(w, "=")
			if !ok || k == "" {
				return nil, bad(fmt.Sprintf("%q is not KEY=VALUE", w))
			}
			out[k] = v
		}
		return out, nil
	}
	if rest == "" {
		return bad("missing arguments")
	}
	var err error
	switch strings.ToUpper(instr) {
	case "CMD":
		cfg.Cmd, err = command()
	case "ENTRYPOINT":
		cfg.Entrypoint, err = command()
	case "ENV":
		var kv map[string]string
		if kv, err = pairs(); err == nil {
			for _, k := range sortedKeys(kv) {
				cfg.Env = setEnv(cfg.Env, k, kv[k])
			}
		}
	case "LABEL":
		var kv map[string]string
		if kv, err = pairs(); err == nil {
			if cfg.Labels == nil {
				cfg.Labels = map[string]string{}
			}
			for k, v := range kv {
				cfg.Labels[k] = v
			}
		}
	case "EXPOSE":
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range strings.Fields(rest) {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			cfg.ExposedPorts[p] = struct{}{}
		}
	case "VOLUME":
		vols := strings.Fields(rest)
		if strings.HasPrefix(rest, "[") {
			if err := json.Unmarshal([]byte(rest), &vols); err != nil {
				return bad("not a JSON array of strings")
			}
		}
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range vols {
			cfg.Volumes[v] = struct{}{}
		}
	case "USER":
		cfg.User = rest
	case "WORKDIR":
		cfg.WorkingDir = rest
	case "STOPSIGNAL":
		cfg.StopSignal = rest
	case "ONBUILD":
		cfg.OnBuild = append(cfg.OnBuild, rest)
	case "HEALTHCHECK":
		cfg.Healthcheck, err = healthcheck(rest, bad)
	default:
		return bad(fmt.Sprintf("%s is not an instruction import can apply", instr))
	}
	return err
}

// healthcheck reads HEALTHCHECK's arguments: NONE, or options
// (--interval, --timeout, --start-period, --start-interval, --retries)
// then CMD in JSON or shell form.
func healthcheck(rest string, bad func(string) error) (*v1.HealthConfig, error) {
	if strings.EqualFold(rest, "NONE") {
		return &v1.HealthConfig{Test: []string{"NONE"}}, nil
	}
	h := &v1.HealthConfig{}
	for strings.HasPrefix(rest, "--") {
		opt, after, _ := strings.Cut(rest, " ")
		rest = strings.TrimSpace(after)
		name, value, ok := strings.Cut(strings.TrimPrefix(opt, "--"), "=")
		if !ok {
			return nil, bad(fmt.Sprintf("option %s needs a value (--%s=VALUE)", opt, name))
		}
		var d time.Duration
		var err error
		if name != "retries" {
			if d, err = time.ParseDuration(value); err != nil {
				return nil, bad(fmt.Sprintf("--%s: %q is not a duration", name, value))
			}
		}
		switch name {
		case "interval":
			h.Interval = d
		case "timeout":
			h.Timeout = d
		case "start-period":
			h.StartPeriod = d
		case "start-interval":
			return nil, bad("--start-interval is not kept in image configs here (set start_interval on the service)")
		case "retries":
			if h.Retries, err = strconv.Atoi(value); err != nil || h.Retries < 0 {
				return nil, bad(fmt.Sprintf("--retries: %q is not a count", value))
			}
		default:
			return nil, bad(fmt.Sprintf("unknown HEALTHCHECK option --%s", name))
		}
	}
	cmd, args, _ := strings.Cut(rest, " ")
	args = strings.TrimSpace(args)
	if !strings.EqualFold(cmd, "CMD") || args == "" {
		return nil, bad("want HEALTHCHECK [OPTIONS] CMD command, or HEALTHCHECK NONE")
	}
	if strings.HasPrefix(args, "[") {
		var argv []string
		if err := json.Unmarshal([]byte(args), &argv); err != nil || len(argv) == 0 {
			return nil, bad("not a JSON array of strings")
		}
		h.Test = append([]string{"CMD"}, argv...)
	} else {
		h.Test = []string{"CMD-SHELL", args}
	}
	return h, nil
}

func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if strings.HasPrefix(e, k+"=") {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}
