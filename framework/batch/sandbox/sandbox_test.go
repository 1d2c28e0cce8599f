package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestLocalRead(t *testing.T) {
	root := t.TempDir()
	loc := Location{FrameworkID: "fw", TaskID: "job_1_0_1"}
	for _, run := range []string{"0", "1"} {
		dir := filepath.Join(root, "agent2", "frameworks", "fw", "tasks", "job_1_0_1", "runs", run)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "stdout"), []byte("run "+run+" hello\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(root, "agent1"), 0o755)
	l := NewLocal(filepath.Join(root, "agent*"))
	ctx := context.Background()
	data, size, err := l.Read(ctx, loc, Stdout, 0, 1024)
	if err != nil || string(data) != "run 1 hello\n" || size != 12 {
		t.Fatalf("read = %q %d %v", data, size, err)
	}
	data, _, _ = l.Read(ctx, loc, Stdout, 4, 3)
	if string(data) != "1 h" {
		t.Errorf("partial = %q", data)
	}
	data, _, _ = l.Read(ctx, loc, Stdout, -6, 100)
	if string(data) != "hello\n" {
		t.Errorf("tail = %q", data)
	}
	if data, _, err := l.Read(ctx, loc, Stdout, 100, 10); err != nil || len(data) != 0 {
		t.Errorf("past the end: %q %v", data, err)
	}
	if _, _, err := l.Read(ctx, loc, Stderr, 0, 10); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing stderr: %v", err)
	}
	if _, _, err := l.Read(ctx, Location{FrameworkID: "fw", TaskID: "nope"}, Stdout, 0, 10); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing task: %v", err)
	}
	if _, _, err := (None{}).Read(ctx, loc, Stdout, 0, 10); !errors.Is(err, ErrUnsupported) {
		t.Errorf("None: %v", err)
	}
}
