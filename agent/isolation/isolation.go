package isolation

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// Version is the cgroup hierarchy version in use.
type Version int

// Cgroup versions. None means isolation is off.
const (
	None Version = 0
	V1   Version = 1
	V2   Version = 2
)

// unified is the key under which a v2 cgroup's single directory is kept.
const unified = "unified"

// probes numbers probe cgroups, so that concurrent Detects do not collide.
var probes atomic.Uint64

// The controllers this package manages.
var managed = []string{"cpu", "memory"}

// ErrDisabled is returned by Create when isolation is off.
var ErrDisabled = errors.New("isolation: cgroups are not in use")

// Config says how Detect sets isolation up. The zero value means: cgroups
// where the kernel allows, parent "agora", shares and a CFS quota.
type Config struct {
	// Disable turns isolation off ("none: disabled by configuration").
	Disable bool
	// Parent is the cgroup, relative to the root of each hierarchy, under
	// which task cgroups are created. Default "agora".
	Parent string
	// NoCPUQuota leaves out the CFS quota (the hard cpu cap) and keeps only
	// cpu shares (v1) or cpu weight (v2).
	NoCPUQuota bool
	// CFSPeriod is the CFS period for the quota. Default 100ms.
	CFSPeriod time.Duration
}

func (c Config) withDefaults() Config {
	if c.Parent == "" {
		c.Parent = "agora"
	}
	if c.CFSPeriod <= 0 {
		c.CFSPeriod = 100 * time.Millisecond
	}
	return c
}

// Limits are what one task's cgroup enforces. Zero means no limit.
type Limits struct {
	// CPUs sets cpu shares to CPUs×1024 (v2: the equivalent weight) and,
	// unless Config.NoCPUQuota, a CFS quota of CPUs×period.
	CPUs float64
	// MemoryBytes is the memory limit (swap included where the kernel
	// accounts it).
	MemoryBytes uint64
}

// Manager creates task cgroups. Build one with Detect; its methods are
// safe for concurrent use (it holds no mutable state after Detect).
type Manager struct {
	cfg         Config
	version     Version
	parents     map[string]string // controller (or "unified") → parent directory
	v2root      string            // the cgroup2 mount point
	controllers []string          // the managed controllers that work, sorted
	reason      string            // why isolation is off
}

// Detect finds out which cgroup version and controllers work on this
// machine by creating the parent cgroup and a probe cgroup under it and
// moving a short-lived /bin/sh into the probe. It never fails: if nothing
// works, the Manager is disabled and String says why.
func Detect(cfg Config) *Manager {
	cfg = cfg.withDefaults()
	if cfg.Disable {
		return off(cfg, "disabled by configuration")
	}
	if err := validParent(cfg.Parent); err != nil {
		return off(cfg, err.Error())
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return off(cfg, fmt.Sprintf("cannot read mounts: %v", err))
	}
	mounts, err := parseMountinfo(f)
	f.Close()
	if err != nil {
		return off(cfg, fmt.Sprintf("cannot read mounts: %v", err))
	}
	m, err := plan(cfg, mounts)
	if err != nil {
		return off(cfg, err.Error())
	}
	var why []string
	for _, c := range slices.Clone(m.controllers) {
		if err := m.setup(c); err != nil {
			why = append(why, err.Error())
			m.drop(c)
		}
	}
	if len(m.controllers) > 0 {
		if err := m.probe(); err != nil {
			why = append(why, err.Error())
			m.controllers = nil
		}
	}
	if len(m.controllers) == 0 {
		return off(cfg, strings.Join(why, "; "))
	}
	return m
}

func off(cfg Config, reason string) *Manager {
	return &Manager{cfg: cfg, reason: reason}
}

func validParent(p string) error {
	if filepath.IsAbs(p) || strings.ContainsAny(p, " \t\r\n") {
		return fmt.Errorf("invalid cgroup parent %q: want a relative path without white space", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("invalid cgroup parent %q", p)
		}
	}
	return nil
}

// plan chooses the hierarchy: v2 when the unified mount offers cpu or
// memory, else the v1 cpu and memory mounts.
func plan(cfg Config, mounts []mount) (*Manager, error) {
	for _, mt := range mounts {
		if mt.fstype != "cgroup2" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(mt.point, "cgroup.controllers"))
		if err != nil {
			continue
		}
		var have []string
		for _, c := range strings.Fields(string(b)) {
			if slices.Contains(managed, c) {
				have = append(have, c)
			}
		}
		if len(have) == 0 {
			continue // a hybrid system's unified mount without controllers
		}
		slices.Sort(have)
		return &Manager{
			cfg: cfg, version: V2, controllers: have, v2root: mt.point,
			parents: map[string]string{unified: filepath.Join(mt.point, cfg.Parent)},
		}, nil
	}
	m := &Manager{cfg: cfg, version: V1, parents: map[string]string{}}
	for _, c := range managed {
		for _, mt := range mounts {
			if mt.fstype == "cgroup" && hasOption(mt, c) {
				m.parents[c] = filepath.Join(mt.point, cfg.Parent)
				m.controllers = append(m.controllers, c)
				break
			}
		}
	}
	if len(m.controllers) == 0 {
		return nil, errors.New("no cpu or memory cgroup controller is mounted")
	}
	return m, nil
}

func (m *Manager) drop(c string) {
	m.controllers = slices.DeleteFunc(m.controllers, func(x string) bool { return x == c })
	if m.version == V1 {
		delete(m.parents, c)
	}
}

// setup creates the parent cgroup for controller c (v2: enables c in the
// subtree of every cgroup from the mount root down to the parent).
func (m *Manager) setup(c string) error {
	if m.version == V1 {
		if err := os.MkdirAll(m.parents[c], 0o755); err != nil {
			return fmt.Errorf("%s: %w", c, err)
		}
		return nil
	}
	cur := m.v2root
	dirs := []string{cur}
	for _, part := range strings.Split(m.cfg.Parent, "/") {
		cur = filepath.Join(cur, part)
		dirs = append(dirs, cur)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("%s: %w", c, err)
		}
		if err := enable(d, c); err != nil {
			return fmt.Errorf("%s: %w", c, err)
		}
	}
	return nil
}

// enable adds controller c to dir's cgroup.subtree_control unless it is
// already there.
func enable(dir, c string) error {
	f := filepath.Join(dir, "cgroup.subtree_control")
	if b, err := os.ReadFile(f); err == nil && slices.Contains(strings.Fields(string(b)), c) {
		return nil
	}
	if err := os.WriteFile(f, []byte("+"+c), 0o644); err != nil {
		return fmt.Errorf("enable controller in %s: %w", dir, err)
	}
	return nil
}

// probe creates a cgroup with limits, moves a shell into it and removes it.
func (m *Manager) probe() error {
	name := fmt.Sprintf("probe-%d-%d", os.Getpid(), probes.Add(1))
	cg, err := m.Create(name, Limits{CPUs: 1, MemoryBytes: 256 << 20})
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	args := append([]string{"-c", `for f in "$@"; do echo $$ > "$f" || exit 1; done`, "probe"}, cg.ProcsFiles()...)
	out, runErr := exec.CommandContext(ctx, "/bin/sh", args...).CombinedOutput()
	if err := cg.Destroy(ctx); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		return fmt.Errorf("probe: cannot move a process into a cgroup: %v %s", runErr, strings.TrimSpace(string(out)))
	}
	return nil
}

// Enabled reports whether tasks get cgroups.
func (m *Manager) Enabled() bool { return len(m.controllers) > 0 }

// Version returns the cgroup version in use, None when disabled.
func (m *Manager) Version() Version {
	if !m.Enabled() {
		return None
	}
	return m.version
}

// Controllers returns the controllers in use, sorted.
func (m *Manager) Controllers() []string { return slices.Clone(m.controllers) }

// String describes the isolation, e.g. "cgroups-v1(cpu,memory)" or
// "none: no cpu or memory cgroup controller is mounted".
func (m *Manager) String() string {
	if !m.Enabled() {
		return "none: " + m.reason
	}
	return fmt.Sprintf("cgroups-v%d(%s)", m.version, strings.Join(m.controllers, ","))
}

// RemoveParent removes the parent cgroups if they are empty; it is for
// tests and tidy shutdowns, and harmless when tasks still run.
func (m *Manager) RemoveParent() {
	for _, p := range m.parents {
		_ = os.Remove(p)
	}
}

// Create makes the cgroup name (one path component) under the parent and
// writes lim into it. Nothing is left behind on error.
func (m *Manager) Create(name string, lim Limits) (*Cgroup, error) {
	if !m.Enabled() {
		return nil, ErrDisabled
	}
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/ \t\r\n") {
		return nil, fmt.Errorf("isolation: invalid cgroup name %q", name)
	}
	cg := &Cgroup{st: State{Version: m.version, Dirs: map[string]string{}}}
	if m.version == V2 {
		cg.st.Dirs[unified] = filepath.Join(m.parents[unified], name)
	} else {
		for _, c := range m.controllers {
			cg.st.Dirs[c] = filepath.Join(m.parents[c], name)
		}
	}
	var made []string
	for _, d := range cg.distinctDirs() {
		if err := os.Mkdir(d, 0o755); err != nil {
			removeAll(made)
			return nil, fmt.Errorf("isolation: create cgroup: %w", err)
		}
		made = append(made, d)
	}
	if err := m.write(cg, lim); err != nil {
		removeAll(made)
		return nil, err
	}
	return cg, nil
}

func removeAll(dirs []string) {
	for _, d := range dirs {
		_ = os.Remove(d)
	}
}

// write applies lim to a new cgroup.
func (m *Manager) write(cg *Cgroup, lim Limits) error {
	period := uint64(m.cfg.CFSPeriod / time.Microsecond)
	quota := uint64(lim.CPUs*float64(period) + 0.5)
	quota = max(quota, 1000) // the kernel's minimum is 1ms
	shares := max(uint64(lim.CPUs*1024+0.5), 2)
	type kv struct {
		dir, file, value string
		optional         bool
	}
	var w []kv
	has := func(c string) bool { return slices.Contains(m.controllers, c) }
	if m.version == V1 {
		cpu, mem := cg.st.Dirs["cpu"], cg.st.Dirs["memory"]
		if has("cpu") && lim.CPUs > 0 {
			w = append(w, kv{cpu, "cpu.shares", fmt.Sprint(shares), false})
			if !m.cfg.NoCPUQuota {
				w = append(w,
					kv{cpu, "cpu.cfs_period_us", fmt.Sprint(period), false},
					kv{cpu, "cpu.cfs_quota_us", fmt.Sprint(quota), false})
			}
		}
		if has("memory") && lim.MemoryBytes > 0 {
			w = append(w,
				kv{mem, "memory.limit_in_bytes", fmt.Sprint(lim.MemoryBytes), false},
				// Present only with swap accounting; must follow the limit.
				kv{mem, "memory.memsw.limit_in_bytes", fmt.Sprint(lim.MemoryBytes), true})
		}
	} else {
		d := cg.st.Dirs[unified]
		if has("cpu") && lim.CPUs > 0 {
			w = append(w, kv{d, "cpu.weight", fmt.Sprint(sharesToWeight(shares)), false})
			if !m.cfg.NoCPUQuota {
				w = append(w, kv{d, "cpu.max", fmt.Sprintf("%d %d", quota, period), false})
			}
		}
		if has("memory") && lim.MemoryBytes > 0 {
			w = append(w,
				kv{d, "memory.max", fmt.Sprint(lim.MemoryBytes), false},
				kv{d, "memory.swap.max", "0", true})
		}
	}
	for _, x := range w {
		err := os.WriteFile(filepath.Join(x.dir, x.file), []byte(x.value), 0o644)
		if err != nil && !x.optional {
			return fmt.Errorf("isolation: set %s=%s: %w", x.file, x.value, err)
		}
	}
	return nil
}

// sharesToWeight converts v1 cpu shares [2, 262144] to a v2 cpu weight
// [1, 10000], as runc and Kubernetes do.
func sharesToWeight(shares uint64) uint64 {
	shares = min(max(shares, 2), 262144)
	return 1 + ((shares-2)*9999)/262142
}
