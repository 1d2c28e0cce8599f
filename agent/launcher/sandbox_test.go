package launcher

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

func TestGCSandboxes(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-2 * time.Hour)
	mk := func(fw, task string, run int, finished bool, at time.Time) string {
		d := SandboxDir(dir, wire.FrameworkID(fw), wire.TaskID(task), run)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, StdoutFile), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if finished {
			if err := writeExitFile(d, Exit{State: wire.TaskFinished}); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(filepath.Join(d, ExitFile), at, at); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	oldDone := mk("fw1", "a", 0, true, old)
	recent := mk("fw1", "a", 1, true, time.Now())
	running := mk("fw1", "b", 0, false, old)
	busy := mk("fw2", "c", 0, true, old)
	lonely := mk("fw3", "d", 0, true, old)

	removed, err := GCSandboxes(dir, time.Hour, func(s string) bool { return s == busy })
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(removed)
	if want := []string{oldDone, lonely}; !slices.Equal(removed, want) {
		t.Errorf("removed %v, want %v", removed, want)
	}
	for _, d := range []string{recent, running, busy} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s was removed: %v", d, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "frameworks", "fw3")); !os.IsNotExist(err) {
		t.Errorf("the empty framework directory fw3 was kept (%v)", err)
	}
	if removed, err := GCSandboxes(t.TempDir(), 0, nil); err != nil || len(removed) != 0 {
		t.Errorf("GC of an empty work dir: %v, %v", removed, err)
	}
}

func TestReadExitRoundTrip(t *testing.T) {
	dir := t.TempDir()
	code := 3
	in := Exit{State: wire.TaskFailed, Reason: wire.ReasonCommandExited, ExitCode: &code, Message: "exited with code 3"}
	if err := writeExitFile(dir, in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadExit(dir)
	if err != nil {
		t.Fatal(err)
	}
	if out.State != in.State || out.ExitCode == nil || *out.ExitCode != 3 || out.Message != in.Message {
		t.Errorf("read %+v, wrote %+v", out, in)
	}
}

func TestPathComponent(t *testing.T) {
	for _, bad := range []string{"", ".", "..", "a/b", "a\x00b"} {
		if err := pathComponent("task id", bad); err == nil {
			t.Errorf("pathComponent(%q) accepted", bad)
		}
	}
	for _, ok := range []string{"a", "a.b", "web-1_x", "..a"} {
		if err := pathComponent("task id", ok); err != nil {
			t.Errorf("pathComponent(%q): %v", ok, err)
		}
	}
}
