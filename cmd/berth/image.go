package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berth-dev/berth/format"
	"github.com/berth-dev/berth/image"
)

// openImages opens the image store under --root.
func (g *globals) openImages() (*image.Store, *image.Snapshots, error) {
	return image.OpenRoot(g.root)
}

// progress is Docker's pull/push display on stdout: redrawn on a terminal,
// plain lines otherwise, nothing with -q.
func (g *globals) display(quiet bool) image.Progress {
	if quiet {
		return image.Quiet
	}
	return g.displayTo(g.stdout)
}

// displayTo is the progress display on w.
func (g *globals) displayTo(w io.Writer) image.Progress {
	f, ok := w.(*os.File)
	return image.NewProgress(w, ok && term.IsTerminal(int(f.Fd())))
}

func newImageCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "image", Short: "Manage images"}
	cmd.AddCommand(
		newImagePullCmd(g), newImagePushCmd(g), newImageLsCmd(g), newImageRmCmd(g), newImageTagCmd(g),
		newImageInspectCmd(g), newImageHistoryCmd(g), newImageImportCmd(g), newImageSaveCmd(g),
		newImageLoadCmd(g), newImagePruneCmd(g), newImageBuildCmd(g),
	)
	return cmd
}

func newImagePullCmd(g *globals) *cobra.Command {
	var o image.PullOptions
	var quiet bool
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, snaps, err := g.openImages()
			if err != nil {
				return err
			}
			if !quiet && !strings.ContainsAny(lastPart(args[0]), ":@") {
				fmt.Fprintln(g.stdout, "Using default tag: latest")
			}
			o.Progress = g.display(quiet)
			ref, err := image.Pull(cmd.Context(), s, snaps, args[0], o)
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, ref.Name)
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Platform, "platform", "", "Set platform if server is multi-platform capable")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress verbose output")
	return cmd
}

// lastPart is a reference without its registry host, where a port's colon
// would look like a tag's.
func lastPart(ref string) string { return ref[strings.LastIndex(ref, "/")+1:] }

func newImagePushCmd(g *globals) *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] NAME[:TAG]",
		Short: "Upload an image to a registry",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, _, err := g.openImages()
			if err != nil {
				return err
			}
			_, err = image.Push(cmd.Context(), s, args[0], image.PushOptions{Progress: g.display(quiet)})
			return err
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress verbose output")
	return cmd
}

var imageTable = format.Table{
	Default: "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}",
	Headers: map[string]string{"ID": "IMAGE ID", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT"},
}

func newImageLsCmd(g *globals) *cobra.Command {
	var o image.ListOptions
	var quiet, all, digests bool
	var fmtFlag string
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS] [REPOSITORY[:TAG]]",
		Aliases: []string{"list"},
		Short:   "List images",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, _, err := g.openImages()
			if err != nil {
				return err
			}
			if len(args) == 1 {
				o.Reference = args[0]
			}
			rows, err := image.List(s, o)
			if err != nil {
				return err
			}
			if quiet {
				seen := map[string]bool{}
				for _, r := range rows {
					if !seen[r.ID] {
						seen[r.ID] = true
						fmt.Fprintln(g.stdout, r.ID)
					}
				}
				return nil
			}
			t := imageTable
			if digests {
				t.Default = "{{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			}
			return t.Write(g.stdout, fmtFlag, anySlice(rows))
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "Show all images (default hides intermediate images)")
	f.BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
	f.StringArrayVar(&o.Filters, "filter", nil, "Filter output based on conditions provided (dangling=true, reference=PATTERN, label=KEY[=VALUE])")
	f.StringVar(&fmtFlag, "format", "", "Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'")
	f.BoolVar(&digests, "digests", false, "Show digests")
	f.BoolVar(&o.NoTrunc, "no-trunc", false, "Don't truncate output")
	return cmd
}

func newImageRmCmd(g *globals) *cobra.Command {
	var o image.RemoveOptions
	var noPrune bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] IMAGE [IMAGE...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more images",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, snaps, err := g.openImages()
			if err != nil {
				return err
			}
			m, err := g.containers()
			if err != nil {
				return err
			}
			o.InUse = m.ImageInUse
			o.Keep = m.SnapshotsInUse
			lines, err := image.Remove(cmd.Context(), s, snaps, args, o)
			for _, l := range lines {
				fmt.Fprintln(g.stdout, l)
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&o.Force, "force", "f", false, "Force removal of the image")
	cmd.Flags().BoolVar(&noPrune, "no-prune", false, "Do not delete untagged parents")
	return cmd
}

func newImageTagCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, _, err := g.openImages()
			if err != nil {
				return err
			}
			return image.Tag(cmd.Context(), s, args[0], args[1])
		},
	}
}

func newImageInspectCmd(g *globals) *cobra.Command {
	var tmpl string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE [IMAGE...]",
		Short: "Display detailed information on one or more images",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, _, err := g.openImages()
			if err != nil {
				return err
			}
			return inspectAll(g, tmpl, args, func(ref string) (any, error) { return image.Inspect(s, ref) })
		},
	}
	cmd.Flags().StringVarP(&tmpl, "format", "f", "", "Format output using a custom template")
	return cmd
}

// inspectAll is every inspect command: the document get returns for each
// reference, printed by writeInspect, then the errors of those not found,
// so that one bad name among several still prints the others, as in Docker.
func inspectAll(g *globals, tmpl string, refs []string, get func(ref string) (any, error)) error {
	var docs []any
	var errs []error
	for _, ref := range refs {
		d, err := get(ref)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		docs = append(docs, d)
	}
	if err := writeInspect(g.stdout, tmpl, docs); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// writeInspect prints inspect documents as Docker does: an indented JSON
// array, or the template once per document. Templates see the documents as
// JSON objects, so {{.Config.Cmd}} and {{json .Config}} work on any of them.
func writeInspect(w io.Writer, tmpl string, docs []any) error {
	if tmpl == "" {
		if docs == nil {
			docs = []any{}
		}
		out, err := json.MarshalIndent(docs, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(out))
		return err
	}
	t, err := format.Parse(tmpl)
	if err != nil {
		return usageError{err}
	}
	for _, d := range docs {
		raw, _ := json.Marshal(d)
		// numbers stay as written: 67108864, not the float 6.7108864e+07
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var generic map[string]any
		dec.Decode(&generic)
		if err := t.Execute(w, generic); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	return nil
}

func newImageHistoryCmd(g *globals) *cobra.Command {
	var quiet, noTrunc, human bool
	var fmtFlag string
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, _, err := g.openImages()
			if err != nil {
				return err
			}
			rows, err := image.History(s, args[0], noTrunc)
			if err != nil {
				return err
			}
			if quiet {
				for _, r := range rows {
					fmt.Fprintln(g.stdout, r.ID)
				}
				return nil
			}
			t := format.Table{
				Default: "{{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
				Headers: map[string]string{"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedBy": "CREATED BY", "CreatedAt": "CREATED AT"},
			}
			return t.Write(g.stdout, fmtFlag, anySlice(rows))
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&human, "human", "H", true, "Print sizes and dates in human readable format")
	f.BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
	f.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	f.StringVar(&fmtFlag, "format", "", "Format output using a custom template")
	return cmd
}

func newImageImportCmd(g *globals) *cobra.Command {
	var o image.ImportOptions
	var platform string
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] file|-|DIRECTORY [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball or a directory to create a filesystem image",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, snaps, err := g.openImages()
			if err != nil {
				return err
			}
			if len(args) == 2 {
				o.Name = args[1]
			}
			var src io.Reader = g.stdin
			dir := ""
			switch fi, err := os.Stat(args[0]); {
			case args[0] == "-":
			case strings.Contains(args[0], "://"):
				return usageError{fmt.Errorf("importing from a URL is not supported: download %s first", args[0])}
			case err != nil:
				return fmt.Errorf("import %s: %w", args[0], err)
			case fi.IsDir():
				dir = args[0]
			default:
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				src = f
			}
			name, err := image.Import(cmd.Context(), s, snaps, src, dir, o)
			if err != nil {
				return err
			}
			if strings.HasPrefix(name, "sha256:") {
				fmt.Fprintln(g.stdout, name)
				return nil
			}
			_, img, err := s.Lookup(name)
			if err != nil {
				return err
			}
			id, _ := img.ConfigName()
			fmt.Fprintln(g.stdout, id.String())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.Changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	f.StringVarP(&o.Message, "message", "m", "", "Set commit message for imported image")
	f.StringVar(&platform, "platform", "", "Set platform if server is multi-platform capable")
	return cmd
}

func newImageSaveCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, _, err := g.openImages()
			if err != nil {
				return err
			}
			w := g.stdout
			if output == "" {
				if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
					return usageError{errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")}
				}
			} else {
				// write beside the target and rename, so a failed save
				// leaves no half archive under the name asked for
				tmp, err := os.CreateTemp(dirOf(output), ".berth-save-*")
				if err != nil {
					return err
				}
				defer os.Remove(tmp.Name())
				bw := bufio.NewWriter(tmp)
				if err := image.Save(cmd.Context(), s, args, bw); err != nil {
					tmp.Close()
					return err
				}
				if err := bw.Flush(); err != nil {
					return err
				}
				if err := tmp.Close(); err != nil {
					return err
				}
				return os.Rename(tmp.Name(), output)
			}
			return image.Save(cmd.Context(), s, args, w)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

func dirOf(p string) string {
	if i := strings.LastIndex(p, "/"); i >= 0 {
		return p[:i+1]
	}
	return "."
}

func newImageLoadCmd(g *globals) *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load an image from a tar archive or STDIN",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, snaps, err := g.openImages()
			if err != nil {
				return err
			}
			var r io.Reader = g.stdin
			if input != "" {
				f, err := os.Open(input)
				if err != nil {
					return fmt.Errorf("load %s: %w", input, err)
				}
				defer f.Close()
				r = f
			}
			names, err := image.Load(cmd.Context(), s, snaps, r)
			if err != nil {
				return err
			}
			for _, n := range names {
				if strings.HasPrefix(n, "sha256:") {
					fmt.Fprintln(g.stdout, "Loaded image ID: "+n)
				} else {
					fmt.Fprintln(g.stdout, "Loaded image: "+image.FamiliarName(n))
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "Read from tar archive file, instead of STDIN")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress the load output")
	return cmd
}

func newImagePruneCmd(g *globals) *cobra.Command {
	var all, force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(filters) > 0 {
				return usageError{fmt.Errorf("--filter is not supported by image prune yet")}
			}
			warning := "WARNING! This will remove all dangling images."
			if all {
				warning = "WARNING! This will remove all images without at least one container associated to them."
			}
			if !force && !confirm(g, warning) {
				return nil
			}
			s, snaps, err := g.openImages()
			if err != nil {
				return err
			}
			m, err := g.containers()
			if err != nil {
				return err
			}
			lines, freed, err := image.Prune(cmd.Context(), s, snaps, all, m.ImageInUse, m.SnapshotsInUse)
			if len(lines) > 0 {
				fmt.Fprintln(g.stdout, "Deleted Images:")
				for _, l := range lines {
					fmt.Fprintln(g.stdout, l)
				}
				fmt.Fprintln(g.stdout)
			}
			fmt.Fprintf(g.stdout, "Total reclaimed space: %s\n", units.HumanSize(float64(freed)))
			return err
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused images, not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "Provide filter values")
	return cmd
}

// confirm asks Docker's question on stdout and reads y from stdin; anything
// else, end of input included, is no.
func confirm(g *globals, warning string) bool {
	fmt.Fprintf(g.stdout, "%s\nAre you sure you want to continue? [y/N] ", warning)
	line, _ := bufio.NewReader(g.stdin).ReadString('\n')
	answer := strings.ToLower(strings.TrimSpace(line))
	if answer != "y" && answer != "yes" {
		fmt.Fprintln(g.stdout)
		return false
	}
	return true
}

func newLoginCmd(g *globals) *cobra.Command {
	var user, password string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Log in to a registry",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			if passwordStdin {
				if password != "" {
					return usageError{errors.New("--password and --password-stdin are mutually exclusive")}
				}
				data, err := io.ReadAll(g.stdin)
				if err != nil {
					return err
				}
				password = strings.TrimRight(string(data), "\r\n")
			}
			if user == "" || password == "" {
				return usageError{errors.New("login needs --username and --password or --password-stdin")}
			}
			if err := image.Login(cmd.Context(), server, user, password); err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, "Login Succeeded")
			return nil
		},
	}
	cmd.Flags().StringVarP(&user, "username", "u", "", "Username")
	cmd.Flags().StringVarP(&password, "password", "p", "", "Password or Personal Access Token (PAT)")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "Take the Password or Personal Access Token (PAT) from stdin")
	return cmd
}

func newLogoutCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Log out from a registry",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			if err := image.Logout(server); err != nil {
				return err
			}
			if server == "" {
				server = "https://index.docker.io/v1/"
			}
			fmt.Fprintf(g.stdout, "Removing login credentials for %s\n", server)
			return nil
		},
	}
}

// exactArgs is cobra.ExactArgs with Docker's wording and exit code 125.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%q requires exactly %d argument(s) (see '%s --help')", cmd.CommandPath(), n, cmd.CommandPath())}
		}
		return nil
	}
}

func anySlice[T any](rows []T) []any {
	out := make([]any, len(rows))
	for i, r := range rows {
		out[i] = r
	}
	return out
}
