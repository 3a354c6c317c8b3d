package jsonlog

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Entry is one line of a log.
type Entry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// MaxLine is the longest entry Drain writes: a longer line is split, as
// Docker's log copier splits it.
const MaxLine = 16 << 10

// Writer appends the container's streams to its log. Lines from stdout and
// stderr interleave in the order they arrive.
type Writer struct {
	mu       sync.Mutex
	f        *os.File
	path     string
	size     int64
	maxSize  int64
	maxFiles int
}

// Open opens the log at path for appending. With maxSize > 0, the file is
// rotated before a line would take it past maxSize bytes, keeping maxFiles
// files in all (at least one).
func Open(path string, maxSize int64, maxFiles int) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Writer{f: f, path: path, size: fi.Size(), maxSize: maxSize, maxFiles: max(maxFiles, 1)}, nil
}

// Drain copies r into the log as stream, an entry a line, until r ends (a
// PTY master ends with EIO once the process is gone).
func (w *Writer) Drain(r io.Reader, stream string) {
	br := bufio.NewReaderSize(r, MaxLine)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			data, _ := json.Marshal(Entry{Log: string(line), Stream: stream, Time: time.Now().UTC()})
			w.write(append(data, '\n'))
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// write appends one encoded line, rotating first when it would overflow.
func (w *Writer) write(line []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.maxSize > 0 && w.size > 0 && w.size+int64(len(line)) > w.maxSize {
		w.rotate()
	}
	n, _ := w.f.Write(line)
	w.size += int64(n)
}

func (w *Writer) rotate() {
	w.f.Close()
	for i := w.maxFiles - 1; i >= 1; i-- {
		os.Rename(rotated(w.path, i-1), rotated(w.path, i))
	}
	f, err := os.OpenFile(w.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_TRUNC, 0o640)
	if err != nil {
		return
	}
	w.f, w.size = f, 0
}

// Close closes the file.
func (w *Writer) Close() error { return w.f.Close() }

// rotated is the name of the i-th rotated file; 0 is the live one.
func rotated(path string, i int) string {
	if i == 0 {
		return path
	}
	return fmt.Sprintf("%s.%d", path, i)
}

// Files are the log's files, oldest first, the live one last.
func Files(path string) []string {
	var out []string
	for i := 1; ; i++ {
		if _, err := os.Stat(rotated(path, i)); err != nil {
			break
		}
		out = append([]string{rotated(path, i)}, out...)
	}
	return append(out, path)
}

// Read calls fn for each entry of the file at path from offset on and
// returns the offset after the last whole line, where a follower resumes:
// a partial last line, still being written, is read next time. A line
// that is not an entry is skipped.
func Read(path string, offset int64, fn func(Entry) error) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return offset, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return offset, err
	}
	br := bufio.NewReader(f)
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return offset, nil
		}
		offset += int64(len(line))
		var e Entry
		if json.Unmarshal(line, &e) != nil {
			continue
		}
		if err := fn(e); err != nil {
			return offset, err
		}
	}
}
