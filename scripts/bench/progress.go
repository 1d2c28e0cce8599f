package bench

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progress shows one line of progress, rewritten in place at most five
// times a second, or — in lines mode, for logs — one timestamped line
// every two seconds. A nil *progress or one without a writer shows
// nothing.
type progress struct {
	w      io.Writer
	lines  bool
	mu     sync.Mutex
	last   time.Time
	shown  bool
	prefix string
}

func newProgress(w io.Writer, lines bool, scenario Scenario) *progress {
	return &progress{w: w, lines: lines, prefix: "[" + string(scenario) + "] "}
}

// set shows a line; unless force, not more often than every 200 ms.
func (p *progress) set(force bool, format string, args ...any) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	every := 200 * time.Millisecond
	if p.lines {
		every = 2 * time.Second
	}
	if !force && time.Since(p.last) < every {
		return
	}
	p.last = time.Now()
	if p.lines {
		fmt.Fprintf(p.w, "%s %s%s\n", p.last.Format("15:04:05.000"), p.prefix, fmt.Sprintf(format, args...))
		return
	}
	p.shown = true
	fmt.Fprintf(p.w, "\r\033[K%s%s", p.prefix, fmt.Sprintf(format, args...))
}

// clear removes the line.
func (p *progress) clear() {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}

// IsTerminal reports whether f is a character device (a terminal), where
// progress is worth showing.
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
