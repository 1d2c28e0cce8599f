package batch

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/agora-cluster/agora/framework/batch/record"
)

// progressBar draws one status line: redrawn in place on a terminal,
// printed as a new line at most every interval elsewhere (logs, CI).
type progressBar struct {
	w        io.Writer
	tty      bool
	width    int
	interval time.Duration
	last     string
	lastAt   time.Time
	drawn    bool
	// held is a line not printed because of the interval (off a
	// terminal); done prints it, so the final counts are always shown.
	held string
}

func newProgressBar(w io.Writer) *progressBar {
	return &progressBar{w: w, tty: isTerminal(w), width: 30, interval: 2 * time.Second}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// renderBar formats progress as
//
//	label [#######.......]  45/100  ok 40  running 5  failed 0  retried 2  12.3s
func renderBar(label string, p record.Progress, elapsed time.Duration, width int, unicode bool) string {
	full, empty := "#", "."
	if unicode {
		full, empty = "█", "░"
	}
	n := 0
	if p.Instances > 0 {
		n = p.Done() * width / p.Instances
	}
	n = min(max(n, 0), width)
	return fmt.Sprintf("%s [%s%s] %d/%d  ok %d  running %d  failed %d  retried %d  %s",
		label, strings.Repeat(full, n), strings.Repeat(empty, width-n), p.Done(), p.Instances,
		p.Succeeded, p.Running, p.Failed, p.Retried, elapsed.Round(100*time.Millisecond))
}

// update shows a new state of the bar.
func (b *progressBar) update(label string, p record.Progress, elapsed time.Duration) {
	line := renderBar(label, p, elapsed, b.width, b.tty)
	if b.tty {
		fmt.Fprintf(b.w, "\r\033[K%s", line)
		b.drawn = true
		return
	}
	// Elsewhere: only when the counts changed, and not too often.
	key := renderBar(label, p, 0, b.width, false)
	if key == b.last {
		b.held = "" // the printed line shows this state
		return
	}
	if time.Since(b.lastAt) < b.interval {
		b.held = line
		return
	}
	b.last, b.lastAt, b.held = key, time.Now(), ""
	fmt.Fprintln(b.w, line)
}

// println prints a line above the bar.
func (b *progressBar) println(format string, args ...any) {
	if b.tty && b.drawn {
		fmt.Fprint(b.w, "\r\033[K")
		b.drawn = false
	}
	fmt.Fprintf(b.w, format+"\n", args...)
}

// done ends the bar's line; off a terminal it prints the latest state
// if the interval held it back.
func (b *progressBar) done() {
	if b.tty && b.drawn {
		fmt.Fprintln(b.w)
		b.drawn = false
	}
	if b.held != "" {
		fmt.Fprintln(b.w, b.held)
		b.held = ""
	}
}
