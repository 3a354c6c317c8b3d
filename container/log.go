package container

import (
	"bufio"
	"encoding/json"
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
// longer than the buffer is split, as Docker does.
type logWriter struct {
	mu sync.Mutex
	f  *os.File
}

func openLog(path string) (*logWriter, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	return &logWriter{f: f}, nil
}

// drain copies r, line by line, into the log as stream until r ends.
func (w *logWriter) drain(r io.Reader, stream string) {
	br := bufio.NewReaderSize(r, 16<<10)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			data, _ := json.Marshal(LogEntry{Log: line, Stream: stream, Time: time.Now().UTC()})
			w.mu.Lock()
			w.f.Write(append(data, '\n'))
			w.mu.Unlock()
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
