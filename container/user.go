package container

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/errclass"
)

// resolveUser turns Docker's user forms (name, uid, name:group, uid:gid)
// into numeric IDs, reading the image's /etc/passwd and /etc/group (the
// top-most layer that has them), and returns the user's supplementary
// groups from /etc/group (those that list the user, when no group is
// named). Empty is root.
func resolveUser(lowers []string, user string) (uid, gid uint32, groups []uint32, err error) {
	if user == "" {
		return 0, 0, nil, nil
	}
	name, group, hasGroup := strings.Cut(user, ":")
	passwd := readDB(lowers, "etc/passwd")
	gdb := readDB(lowers, "etc/group")
	var userName string
	if n, perr := strconv.ParseUint(name, 10, 32); perr == nil {
		uid = uint32(n)
		for _, f := range passwd {
			if len(f) > 3 && f[2] == name {
				userName = f[0]
				g, _ := strconv.ParseUint(f[3], 10, 32)
				gid = uint32(g)
			}
		}
		// a numeric user the image does not list runs with group 0, as in Docker
	} else {
		found := false
		for _, f := range passwd {
			if len(f) > 3 && f[0] == name {
				u, _ := strconv.ParseUint(f[2], 10, 32)
				g, _ := strconv.ParseUint(f[3], 10, 32)
				uid, gid, userName, found = uint32(u), uint32(g), name, true
				break
			}
		}
		if !found {
			return 0, 0, nil, errclass.New(ErrInvalid, "unable to find user %s: no matching entries in passwd file", name)
		}
	}
	if hasGroup {
		if n, perr := strconv.ParseUint(group, 10, 32); perr == nil {
			gid = uint32(n)
		} else {
			found := false
			for _, f := range gdb {
				if len(f) > 2 && f[0] == group {
					g, _ := strconv.ParseUint(f[2], 10, 32)
					gid, found = uint32(g), true
					break
				}
			}
			if !found {
				return 0, 0, nil, errclass.New(ErrInvalid, "unable to find group %s: no matching entries in group file", group)
			}
		}
	}
	// the groups that list the user, only where no group was named:
	// runc's rule, so Docker's
	if userName != "" && !hasGroup {
		for _, f := range gdb {
			if len(f) > 3 && f[3] != "" && slices.Contains(strings.Split(f[3], ","), userName) {
				g, _ := strconv.ParseUint(f[2], 10, 32)
				groups = append(groups, uint32(g))
			}
		}
	}
	return uid, gid, groups, nil
}

// processUser is the user a process of the container runs as: resolveUser's,
// with the groups of --group-add (group_add) added, as Docker gives them to
// the container's main process and to every exec.
func processUser(lowers []string, user string, groupAdd []string) (uid, gid uint32, groups []uint32, err error) {
	if uid, gid, groups, err = resolveUser(lowers, user); err != nil {
		return 0, 0, nil, err
	}
	extra, err := resolveGroups(lowers, groupAdd)
	if err != nil {
		return 0, 0, nil, err
	}
	return uid, gid, append(groups, extra...), nil
}

// readDB reads a colon-separated database file from the top-most layer
// that has it.
func readDB(lowers []string, rel string) [][]string {
	for _, l := range lowers {
		f, err := os.Open(filepath.Join(l, rel))
		if err != nil {
			continue
		}
		defer f.Close()
		var out [][]string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			out = append(out, strings.Split(line, ":"))
		}
		return out
	}
	return nil
}
