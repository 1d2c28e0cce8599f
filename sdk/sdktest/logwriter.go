package sdktest

import (
	"os"
	"strings"
	"sync"
	"testing"
)

func getenv(k string) string { return os.Getenv(k) }

// testWriter sends log lines to t.Log until the test ends; late lines
// from goroutines still stopping are dropped rather than panicking.
type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

// Write logs one line, unless the test has ended.
func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) close() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}
