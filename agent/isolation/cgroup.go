package isolation

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// State is what identifies a task cgroup across agent restarts; it is
// plain data for checkpoints. Open turns it back into a Cgroup.
type State struct {
	Version Version `json:"version"`
	// Dirs maps a controller ("cpu", "memory"; "unified" for v2) to the
	// cgroup's directory.
	Dirs map[string]string `json:"dirs"`
}

// Cgroup is one task's cgroup.
type Cgroup struct {
	st State
}

// Open rebuilds a Cgroup from a checkpointed State. The directories must
// be absolute and clean; they need not exist any more (Destroy and the
// readers then do nothing).
func Open(st State) (*Cgroup, error) {
	if st.Version != V1 && st.Version != V2 {
		return nil, fmt.Errorf("isolation: unknown cgroup version %d", st.Version)
	}
	if len(st.Dirs) == 0 {
		return nil, errors.New("isolation: cgroup state without directories")
	}
	dirs := make(map[string]string, len(st.Dirs))
	for c, d := range st.Dirs {
		if !filepath.IsAbs(d) || filepath.Clean(d) != d || d == "/" {
			return nil, fmt.Errorf("isolation: invalid cgroup directory %q", d)
		}
		dirs[c] = d
	}
	return &Cgroup{st: State{Version: st.Version, Dirs: dirs}}, nil
}

// State returns the checkpointable identity of c.
func (c *Cgroup) State() State {
	dirs := make(map[string]string, len(c.st.Dirs))
	for k, v := range c.st.Dirs {
		dirs[k] = v
	}
	return State{Version: c.st.Version, Dirs: dirs}
}

// distinctDirs returns the cgroup's directories, sorted, without
// duplicates (v1 controllers may share a mount).
func (c *Cgroup) distinctDirs() []string {
	var out []string
	for _, d := range c.st.Dirs {
		out = append(out, d)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ProcsFiles returns the cgroup.procs files a process writes its pid to,
// to join the cgroup in every hierarchy. No path contains white space.
func (c *Cgroup) ProcsFiles() []string {
	var out []string
	for _, d := range c.distinctDirs() {
		out = append(out, filepath.Join(d, "cgroup.procs"))
	}
	return out
}

// Pids returns the processes in the cgroup, sorted.
func (c *Cgroup) Pids() ([]int, error) {
	var out []int
	for _, f := range c.ProcsFiles() {
		b, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("isolation: %w", err)
		}
		for _, s := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(s); err == nil {
				out = append(out, pid)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// OOMKills returns how many processes the kernel's OOM killer has killed
// in the cgroup because of its memory limit (0 without a memory
// controller). v1 reads "oom_kill" from memory.oom_control (and counts
// "under_oom 1" on kernels older than 4.13); v2 reads memory.events.
func (c *Cgroup) OOMKills() (uint64, error) {
	var file string
	switch {
	case c.st.Version == V1 && c.st.Dirs["memory"] != "":
		file = filepath.Join(c.st.Dirs["memory"], "memory.oom_control")
	case c.st.Version == V2:
		file = filepath.Join(c.st.Dirs[unified], "memory.events")
	default:
		return 0, nil
	}
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) && c.st.Version == V2 {
		return 0, nil // no memory controller in this v2 cgroup
	}
	if err != nil {
		return 0, fmt.Errorf("isolation: %w", err)
	}
	kv := parseFlatKeyed(b)
	if n, ok := kv["oom_kill"]; ok {
		return n, nil
	}
	return kv["under_oom"], nil
}

// parseFlatKeyed parses "key value" lines.
func parseFlatKeyed(b []byte) map[string]uint64 {
	out := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		if n, err := strconv.ParseUint(f[1], 10, 64); err == nil {
			out[f[0]] = n
		}
	}
	return out
}

// Signal sends sig to every process in the cgroup. Processes that are
// gone already are not an error.
func (c *Cgroup) Signal(sig syscall.Signal) error {
	pids, err := c.Pids()
	if err != nil {
		return err
	}
	for _, pid := range pids {
		if pid <= 1 {
			continue
		}
		if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("isolation: signal %d: %w", pid, err)
		}
	}
	return nil
}

// Destroy kills every process left in the cgroup and removes its
// directories, retrying until they are empty or ctx ends.
func (c *Cgroup) Destroy(ctx context.Context) error {
	left := c.distinctDirs()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if c.st.Version == V2 {
			_ = os.WriteFile(filepath.Join(c.st.Dirs[unified], "cgroup.kill"), []byte("1"), 0o644)
		}
		_ = c.Signal(syscall.SIGKILL)
		var busy []string
		var lastErr error
		for _, d := range left {
			err := os.Remove(d)
			if err == nil || errors.Is(err, os.ErrNotExist) {
				continue
			}
			busy, lastErr = append(busy, d), err
		}
		if len(busy) == 0 {
			return nil
		}
		left = busy
		select {
		case <-ctx.Done():
			return fmt.Errorf("isolation: remove cgroup: %w (%v)", lastErr, ctx.Err())
		case <-tick.C:
		}
	}
}
