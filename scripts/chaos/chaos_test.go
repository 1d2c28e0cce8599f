//go:build chaos

package chaos

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	WorkloadMain() // the workload process is this binary, re-executed
	os.Exit(m.Run())
}

// TestChaos runs the fault schedule and fails if any check fails.
// AGORA_CHAOS_SEED (default 1) and AGORA_CHAOS_DURATION (default 75s of
// faults) choose the run; AGORA_CHAOS_DIR keeps everything in a directory
// of your choice (by default a temporary one, removed when the run passes).
func TestChaos(t *testing.T) {
	if err := Available(); err != nil {
		t.Skip(err)
	}
	seed, dur := int64(1), 75*time.Second
	if s := os.Getenv("AGORA_CHAOS_SEED"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("AGORA_CHAOS_SEED: %v", err)
		}
		seed = v
	}
	if s := os.Getenv("AGORA_CHAOS_DURATION"); s != "" {
		v, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("AGORA_CHAOS_DURATION: %v", err)
		}
		dur = v
	}
	dir := os.Getenv("AGORA_CHAOS_DIR")
	keep := dir != ""
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "agora-chaos-"); err != nil {
			t.Fatal(err)
		}
	}
	logf, err := os.Create(filepath.Join(dir, "harness.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	log := slog.New(slog.NewTextHandler(logf, nil))
	ctx, cancel := context.WithTimeout(context.Background(), dur+10*time.Minute)
	defer cancel()
	t.Logf("chaos run: seed %d, %s of faults, dir %s", seed, dur, dir)
	rep, err := Run(ctx, Options{Seed: seed, Duration: dur, Dir: dir, Logger: log})
	if rep != nil {
		t.Log(Summary(rep))
	}
	if err != nil {
		t.Fatalf("chaos run could not complete (everything is in %s): %v", dir, err)
	}
	if !rep.OK() {
		t.Fatalf("chaos checker failed; everything is in %s", dir)
	}
	if !keep {
		_ = os.RemoveAll(dir)
	}
}
