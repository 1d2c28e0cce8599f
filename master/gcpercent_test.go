package master

import (
	"runtime/debug"
	"testing"
)

func TestApplyGCPercent(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }

	if got := applyGCPercent(getenv); got != masterGCPercent {
		t.Fatalf("GOGC unset: applied %d, want %d", got, masterGCPercent)
	}
	if cur := debug.SetGCPercent(100); cur != masterGCPercent {
		t.Fatalf("GOGC unset: the runtime collects at %d, want %d", cur, masterGCPercent)
	}

	// GOGC set: the runtime applied it at start; the master leaves it.
	env["GOGC"] = "200"
	debug.SetGCPercent(200)
	if got := applyGCPercent(getenv); got != 200 {
		t.Fatalf("GOGC=200: reported %d, want 200", got)
	}
	if cur := debug.SetGCPercent(100); cur != 200 {
		t.Fatalf("GOGC=200: the runtime collects at %d, want 200 left alone", cur)
	}
}
