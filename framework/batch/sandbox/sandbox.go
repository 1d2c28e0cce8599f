// Package sandbox reads task output (stdout, stderr) from agent sandboxes
// for the batch framework's logs API.
//
// Agents keep each task's output under
// <work-dir>/frameworks/<framework>/tasks/<task>/runs/<n>/{stdout,stderr}.
// [Master] reads them from any agent through the leading master's
// sandbox API; [Local] reads the work directories of agents on the same
// machine directly.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/agora-cluster/agora/sdk/wire"
)

// Errors returned by readers.
var (
	// ErrNotFound: no sandbox (or no such file) for the task here.
	ErrNotFound = errors.New("sandbox not found")
	// ErrUnsupported: this reader cannot reach the task's agent.
	ErrUnsupported = errors.New("sandbox access not supported for this agent")
)

// Stream names an output file.
type Stream string

// Streams.
const (
	Stdout Stream = "stdout"
	Stderr Stream = "stderr"
)

// Location says where a task ran.
type Location struct {
	FrameworkID wire.FrameworkID
	AgentID     wire.AgentID
	Hostname    string
	TaskID      wire.TaskID
}

// Reader reads a task's output.
type Reader interface {
	// Read returns up to limit bytes of the stream from offset, and the
	// file's size when read.
	Read(ctx context.Context, loc Location, s Stream, offset int64, limit int) (data []byte, size int64, err error)
}

// Local reads sandboxes from agent work directories on this machine.
type Local struct {
	// WorkDirs returns the agents' work directories to search.
	WorkDirs func() []string
}

// NewLocal returns a Local reader over fixed work directories; each may be
// a glob pattern (e.g. "/var/lib/agora/agent*").
func NewLocal(dirs ...string) *Local {
	return &Local{WorkDirs: func() []string {
		var out []string
		for _, d := range dirs {
			if m, err := filepath.Glob(d); err == nil && len(m) > 0 {
				out = append(out, m...)
			} else {
				out = append(out, d)
			}
		}
		return out
	}}
}

// Dir returns the newest run directory of the task, searching every work
// directory.
func (l *Local) Dir(loc Location) (string, error) {
	for _, wd := range l.WorkDirs() {
		runs := filepath.Join(wd, "frameworks", string(loc.FrameworkID), "tasks", string(loc.TaskID), "runs")
		ents, err := os.ReadDir(runs)
		if err != nil {
			continue
		}
		var nums []int
		for _, e := range ents {
			if n, err := strconv.Atoi(e.Name()); err == nil && e.IsDir() {
				nums = append(nums, n)
			}
		}
		if len(nums) == 0 {
			continue
		}
		sort.Ints(nums)
		return filepath.Join(runs, strconv.Itoa(nums[len(nums)-1])), nil
	}
	return "", fmt.Errorf("task %s: %w", loc.TaskID, ErrNotFound)
}

// Read implements Reader.
func (l *Local) Read(ctx context.Context, loc Location, s Stream, offset int64, limit int) ([]byte, int64, error) {
	if s != Stdout && s != Stderr {
		return nil, 0, fmt.Errorf("unknown stream %q", s)
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	dir, err := l.Dir(loc)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(filepath.Join(dir, string(s)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, fmt.Errorf("task %s %s: %w", loc.TaskID, s, ErrNotFound)
	}
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	size := fi.Size()
	if offset < 0 {
		offset = max(0, size+offset) // negative: from the end
	}
	if offset >= size {
		return nil, size, nil
	}
	n := min(int64(limit), size-offset)
	buf := make([]byte, n)
	got, err := f.ReadAt(buf, offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, size, err
	}
	return buf[:got], size, nil
}

// None is a Reader for when no sandbox can be reached.
type None struct{}

// Read implements Reader by refusing.
func (None) Read(context.Context, Location, Stream, int64, int) ([]byte, int64, error) {
	return nil, 0, fmt.Errorf("%w: agents do not serve sandbox files over the network yet; run the framework with --sandbox-dir on the agents' host", ErrUnsupported)
}
