package container

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// LogEntry is one line of a container's log, in Docker's json-file format.
type LogEntry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// logWriter appends lines from the container's streams to its log file.
// Lines from stdout and stderr interleave in the order they arrive; a line
// longer than the buffer is split, as Docker does. With maxSize, the file is
// rotated as Docker's json-file driver rotates it: log -> log.1 -> ... ->
// log.<maxFiles-1>, the oldest dropped.
type logWriter struct {
	mu       sync.Mutex
	f        *os.File
	path     string
	size     int64
	maxSize  int64
	maxFiles int
}

func openLog(path string, maxSize int64, maxFiles int) (*logWriter, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &logWriter{f: f, path: path, size: fi.Size(), maxSize: maxSize, maxFiles: max(maxFiles, 1)}, nil
}

// write appends one encoded line, rotating first when it would overflow.
func (w *logWriter) write(line []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.maxSize > 0 && w.size > 0 && w.size+int64(len(line)) > w.maxSize {
		w.rotate()
	}
	n, _ := w.f.Write(line)
	w.size += int64(n)
}

func (w *logWriter) rotate() {
	w.f.Close()
	for i := w.maxFiles - 1; i >= 1; i-- {
		os.Rename(rotated(w.path, i-1), rotated(w.path, i))
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_APPEND | os.O_TRUNC
	f, err := os.OpenFile(w.path, flags, 0o640)
	if err != nil {
		return
	}
	w.f, w.size = f, 0
}

// rotated is the name of the i-th rotated log file; 0 is the live one.
func rotated(path string, i int) string {
	if i == 0 {
		return path
	}
	return fmt.Sprintf("%s.%d", path, i)
}

// LogFiles are a log's files, oldest first, the live one last.
func LogFiles(path string) []string {
	var out []string
	for i := 1; ; i++ {
		if _, err := os.Stat(rotated(path, i)); err != nil {
			break
		}
		out = append([]string{rotated(path, i)}, out...)
	}
	return append(out, path)
}

// drain copies r, line by line, into the log as stream until r ends.
func (w *logWriter) drain(r io.Reader, stream string) {
	br := bufio.NewReaderSize(r, 16<<10)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			data, _ := json.Marshal(LogEntry{Log: line, Stream: stream, Time: time.Now().UTC()})
			w.write(append(data, '\n'))
		}
		if err != nil {
			return
		}
	}
}

func (w *logWriter) Close() error { return w.f.Close() }

// ReadLog calls fn for each entry of a log file from offset on and returns
// the offset after the last whole line, so a follower can resume there.
func ReadLog(path string, offset int64, fn func(LogEntry) error) (int64, error) {
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
			return offset, nil // a partial last line is read next time
		}
		offset += int64(len(line))
		var e LogEntry
		if json.Unmarshal(line, &e) != nil {
			continue
		}
		if err := fn(e); err != nil {
			return offset, err
		}
	}
}
