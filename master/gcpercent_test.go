package master

import (
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestApplyGCPercent(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }

	got, takeover := applyGCPercent(getenv)
	if got != masterGCPercent || takeover.Percent != takeoverGCPercent {
		t.Fatalf("GOGC unset: applied %d with takeover %d, want %d and %d", got, takeover.Percent, masterGCPercent, takeoverGCPercent)
	}
	if cur := debug.SetGCPercent(100); cur != masterGCPercent {
		t.Fatalf("GOGC unset: the runtime collects at %d, want %d", cur, masterGCPercent)
	}

	// GOGC set: the runtime applied it at start; the master leaves it,
	// during takeovers too.
	env["GOGC"] = "200"
	debug.SetGCPercent(200)
	if got, takeover := applyGCPercent(getenv); got != 200 || takeover.Percent != 0 {
		t.Fatalf("GOGC=200: reported %d with takeover %d, want 200 and none", got, takeover.Percent)
	}
	if cur := debug.SetGCPercent(100); cur != 200 {
		t.Fatalf("GOGC=200: the runtime collects at %d, want 200 left alone", cur)
	}
}

// gogcRecorder stands in for debug.SetGCPercent.
type gogcRecorder struct {
	mu  sync.Mutex
	cur int
	set []int
}

func (r *gogcRecorder) SetGCPercent(p int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	prev := r.cur
	r.cur = p
	r.set = append(r.set, p)
	return prev
}

func (r *gogcRecorder) calls() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.set)
}

func waitCalls(t *testing.T, r *gogcRecorder, want ...int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Equal(r.calls(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC set to %v, want %v", r.calls(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestGCBoost(t *testing.T) {
	r := &gogcRecorder{cur: 50}
	b := newGCBoost(TakeoverGC{Percent: 100, Window: time.Hour, SetGCPercent: r.SetGCPercent}, slog.New(slog.DiscardHandler))

	// A raise within the window extends it and sets nothing more: the
	// first raise's timer, firing, leaves GOGC raised.
	if b.raise() {
		t.Fatal("first raise reported the boost already in force")
	}
	first := b.gen
	if !b.raise() {
		t.Fatal("raise within the window reported no boost in force")
	}
	b.lower(first)
	waitCalls(t, r, 100)
	b.lower(b.gen)
	waitCalls(t, r, 100, 50)

	// Once the window ends, the saved GOGC is back: the operator's 70.
	r.SetGCPercent(70)
	b2 := newGCBoost(TakeoverGC{Percent: 100, Window: 50 * time.Millisecond, SetGCPercent: r.SetGCPercent}, slog.New(slog.DiscardHandler))
	b2.raise()
	waitCalls(t, r, 100, 50, 70, 100, 70)

	// stop restores at once, and the window's timer does nothing after.
	b3 := newGCBoost(TakeoverGC{Percent: 100, Window: 50 * time.Millisecond, SetGCPercent: r.SetGCPercent}, slog.New(slog.DiscardHandler))
	b3.raise()
	b3.stop()
	b3.stop()
	waitCalls(t, r, 100, 50, 70, 100, 70, 100, 70)
	time.Sleep(100 * time.Millisecond) // not synchronisation: lets the stopped window's end pass
	if got := r.calls(); len(got) != 7 {
		t.Fatalf("GOGC set to %v after stop, want nothing after the 7th", got)
	}
}
