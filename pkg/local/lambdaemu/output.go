package lambdaemu

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// tailSize bounds how much of the child's output is kept for error messages:
// enough for a Go panic header and the log lines before it, small enough that
// a chatty function cannot grow the test's memory.
const tailSize = 8 << 10

// tailBuffer keeps the last tailSize bytes written to it. Both of the child's
// streams feed one tailBuffer, because our functions log with slog to stdout
// while Go panics and log.Fatal go to stderr, and an error message needs both
// to explain a failure.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(p) >= tailSize {
		t.buf = append(t.buf[:0], p[len(p)-tailSize:]...)
		return len(p), nil
	}
	if over := len(t.buf) + len(p) - tailSize; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	t.buf = append(t.buf, p...)
	return len(p), nil
}

// String returns the kept output, starting at a line boundary when the start
// was cut off, so that a message never begins with half a line.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	if len(b) == tailSize {
		if i := bytes.IndexByte(b, '\n'); i >= 0 && i+1 < len(b) {
			b = b[i+1:]
		}
	}
	return strings.TrimRight(string(b), "\n")
}

// streamWriter forwards one of the child's streams to the caller's writer and
// to the shared tail. All streamWriters of a Function share one mutex: os/exec
// copies stdout and stderr in two goroutines, and a caller may well pass the
// same bytes.Buffer (or a t.Log adapter) for both.
type streamWriter struct {
	mu   *sync.Mutex
	w    io.Writer
	tail *tailBuffer
}

func (s *streamWriter) Write(p []byte) (int, error) {
	_, _ = s.tail.Write(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	// A failing caller writer must not stop the copy: os/exec would close the
	// pipe and the child would die of SIGPIPE on its next log line, which
	// would look like a function bug.
	_, _ = s.w.Write(p)
	return len(p), nil
}
