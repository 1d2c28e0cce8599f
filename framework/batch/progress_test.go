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
