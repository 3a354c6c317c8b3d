// Command swap exchanges two paths again and again with
// renameat2(RENAME_EXCHANGE), as an attacker in a container does to turn a
// directory into a symlink while something outside walks it (the
// CVE-2018-15664 class). TestCopyRace runs it in a container.
package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: swap A B")
		os.Exit(2)
	}
	for {
		unix.Renameat2(unix.AT_FDCWD, os.Args[1], unix.AT_FDCWD, os.Args[2], unix.RENAME_EXCHANGE)
	}
}
