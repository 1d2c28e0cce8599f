package batch

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/agora-cluster/agora/framework/batch/record"
)

func TestRenderBar(t *testing.T) {
	p := record.Progress{Instances: 10, Succeeded: 4, Failed: 1, Running: 3, Retried: 2}
	got := renderBar("run 7 (x)", p, 1500*time.Millisecond, 10, false)
	want := "run 7 (x) [#####.....] 5/10  ok 4  running 3  failed 1  retried 2  1.5s"
	if got != want {
		t.Fatalf("bar:\n got %q\nwant %q", got, want)
	}
	if u := renderBar("r", record.Progress{Instances: 2, Succeeded: 2}, 0, 4, true); !strings.Contains(u, "[████]") {
		t.Errorf("unicode bar %q", u)
	}
	if z := renderBar("r", record.Progress{}, 0, 4, false); !strings.Contains(z, "[....] 0/0") {
		t.Errorf("empty bar %q", z)
	}
}

// TestBarNotTerminal: off a terminal, lines are printed only when the
// counts change, without control characters.
func TestBarNotTerminal(t *testing.T) {
	var buf bytes.Buffer
	b := newProgressBar(&buf)
	b.interval = 0
	p := record.Progress{Instances: 2}
	b.update("r", p, time.Second)
	b.update("r", p, 2*time.Second)
	p.Succeeded = 1
	b.update("r", p, 3*time.Second)
	b.println("done")
	b.done()
	out := buf.String()
	if strings.Count(out, "\n") != 3 || strings.ContainsAny(out, "\r\033") {
		t.Fatalf("output %q", out)
	}
}

// TestBarHeldLine: off a terminal, a state held back by the interval is
// printed when the bar is done, so the final counts are always shown.
func TestBarHeldLine(t *testing.T) {
	var buf bytes.Buffer
	b := newProgressBar(&buf)
	b.interval = time.Hour
	b.update("r", record.Progress{Instances: 2, Running: 2}, time.Second)
	b.update("r", record.Progress{Instances: 2, Running: 1, Succeeded: 1}, 2*time.Second)
	b.update("r", record.Progress{Instances: 2, Succeeded: 2}, 3*time.Second)
	if got := strings.Count(buf.String(), "\n"); got != 1 {
		t.Fatalf("before done, %d lines, want 1 (the interval holds the rest back): %q", got, buf.String())
	}
	b.done()
	want := "r [" + strings.Repeat("#", 30) + "] 2/2  ok 2  running 0  failed 0  retried 0  3s\n"
	if out := buf.String(); !strings.HasSuffix(out, want) || strings.Count(out, "\n") != 2 {
		t.Fatalf("after done: %q, want it to end with %q", out, want)
	}
	b.done()
	if strings.Count(buf.String(), "\n") != 2 {
		t.Fatalf("done twice printed again: %q", buf.String())
	}
}
