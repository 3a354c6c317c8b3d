// Package errclass is berth's one error vocabulary: a handful of classes
// ([ErrNotFound], [ErrInvalid], [ErrConflict], [ErrState], [ErrFailed],
// [ErrUnavailable], [ErrUsage]) that every error belongs to, whichever
// package made it, and the means to attach a class to an error without
// changing its message: errors.Is finds the class, the user reads only the
// message, as Docker words it.
//
// Each package names its own sentinels in its own words
// (volumes.ErrNotFound, "no such volume"), made with [Sentinel] so that they
// are of a class: errors.Is(err, volumes.ErrNotFound) asks about a
// volume, errors.Is(err, errclass.ErrNotFound) about anything named that is
// not there. Other errors get a class with [New] or [Wrap], the message
// kept. TestSentinels checks that every package's sentinels are classed.
//
// The CLI chooses exit codes from the classes, as Docker's CLI and docker
// compose do: 125 for ErrUsage, the process's own code where a command ran
// one (run, exec), 130 only when a signal ended the command, 1 otherwise.
package errclass
