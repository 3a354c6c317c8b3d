package keeper

import "syscall"

// prSetChildSubreaper is prctl(2)'s PR_SET_CHILD_SUBREAPER.
const prSetChildSubreaper = 36

// Main runs the keeper with argv as its command line, "PROG __keeper
// MONITOR --root ROOT __monitor ID [FLAGS...]", and returns its exit
// code. It waits for a byte on descriptor 3 (none: whoever started it gave
// up), then runs MONITOR with the rest of the command line, with
// descriptors 4 and up (the status pipe, and an attached caller's pipes)
// as the monitor's 3 and up; the keeper keeps none of them, so an attached
// caller hears the end of a monitor that died. Each time the monitor (or
// the recovery monitor) dies by a signal, it runs MONITOR --root ROOT
// __monitor ID --recover, after a back-off that grows while recoveries
// keep dying at once. It returns when a monitor ends by itself.
func Main(argv []string) int {
	if len(argv) < 7 || argv[1] != "__keeper" || argv[3] != "--root" || argv[5] != "__monitor" {
		write(2, "usage: berth-keeper __keeper MONITOR --root ROOT __monitor ID [FLAGS...] (berth runs it)\n")
		return 2
	}
	monitor := argv[2:]
	recovery := append(append([]string(nil), argv[2:7]...), "--recover")
	var go1 [1]byte
	n, err := syscall.Read(3, go1[:])
	for err == syscall.EINTR {
		n, err = syscall.Read(3, go1[:])
	}
	syscall.Close(3)
	if n != 1 {
		return 1
	}
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		write(2, "berth-keeper: cannot be a subreaper: "+errno.Error()+"\n")
	}
	files := []uintptr{0, 1, 2}
	for fd := 4; fd <= 7; fd++ {
		if _, err := fcntl(fd, syscall.F_GETFD); err != nil {
			break
		}
		files = append(files, uintptr(fd))
	}
	// the monitor records its keeper in the container's state, when its
	// parent is the keeper this names
	var env []string
	for _, kv := range syscall.Environ() {
		if len(kv) < 13 || kv[:13] != "BERTH_KEEPER=" {
			env = append(env, kv)
		}
	}
	env = append(env, "BERTH_KEEPER="+itoa(syscall.Getpid()))
	pid, err := syscall.ForkExec(monitor[0], monitor, &syscall.ProcAttr{Env: env, Files: files})
	for _, fd := range files[3:] {
		syscall.Close(int(fd))
	}
	if err != nil {
		write(2, "berth-keeper: starting "+monitor[0]+": "+err.Error()+"\n")
		return 1
	}
	delay := int64(0)
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0 // no child left
		}
		if got != pid {
			continue // an orphan of the monitor's, the container's init first
		}
		if !ws.Signaled() {
			return 0
		}
		// a recovery that itself dies at once (the OOM killer again)
		// waits longer each time, up to 10 s, as a restart policy backs off
		if delay > 0 {
			sleep(delay)
		}
		delay = min(max(2*delay, 100e6), 10e9)
		if pid, err = syscall.ForkExec(recovery[0], recovery, &syscall.ProcAttr{Env: env, Files: []uintptr{0, 1, 2}}); err != nil {
			write(2, "berth-keeper: starting "+recovery[0]+": "+err.Error()+"\n")
			return 1
		}
	}
}

// Args is the command line, read from /proc/self/cmdline: package os,
// which holds it otherwise, would double the program's size.
func Args() []string {
	fd, err := syscall.Open("/proc/self/cmdline", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer syscall.Close(fd)
	var data []byte
	buf := make([]byte, 4096)
	for {
		n, err := syscall.Read(fd, buf)
		if err == syscall.EINTR {
			continue
		}
		if n <= 0 {
			break
		}
		data = append(data, buf[:n]...)
	}
	var args []string
	start := 0
	for i, b := range data {
		if b == 0 {
			args = append(args, string(data[start:i]))
			start = i + 1
		}
	}
	return args
}

func write(fd int, s string) { syscall.Write(fd, []byte(s)) }

// itoa is n in decimal (package strconv would add to the program).
func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

func fcntl(fd, cmd int) (int, error) {
	r, _, errno := syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(fd), uintptr(cmd), 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

func sleep(ns int64) {
	ts := syscall.NsecToTimespec(ns)
	for syscall.Nanosleep(&ts, &ts) == syscall.EINTR {
	}
}
