package isolation

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseMountinfo(t *testing.T) {
	in := `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/my\040unified rw,relatime - cgroup2 cgroup2 rw
garbage line
`
	ms, err := parseMountinfo(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 3 {
		t.Fatalf("got %d mounts, want 3: %+v", len(ms), ms)
	}
	if ms[0].point != "/sys/fs/cgroup/cpu,cpuacct" || !hasOption(ms[0], "cpu") || !hasOption(ms[0], "cpuacct") {
		t.Errorf("cpu mount = %+v", ms[0])
	}
	if hasOption(ms[1], "cpu") || !hasOption(ms[1], "memory") {
		t.Errorf("memory mount = %+v", ms[1])
	}
	if ms[2].fstype != "cgroup2" || ms[2].point != "/sys/fs/cgroup/my unified" {
		t.Errorf("v2 mount = %+v", ms[2])
	}
}

func TestPlanPrefersV2OnlyWithControllers(t *testing.T) {
	dir := t.TempDir()
	empty, full := filepath.Join(dir, "empty"), filepath.Join(dir, "full")
	for d, ctrl := range map[string]string{empty: "hugetlb\n", full: "cpuset cpu io memory pids\n"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "cgroup.controllers"), []byte(ctrl), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	v1 := []mount{
		{point: "/cg/cpu", fstype: "cgroup", options: []string{"rw", "cpu"}},
		{point: "/cg/memory", fstype: "cgroup", options: []string{"rw", "memory"}},
	}
	cfg := Config{}.withDefaults()

	m, err := plan(cfg, append(slices.Clone(v1), mount{point: empty, fstype: "cgroup2"}))
	if err != nil {
		t.Fatal(err)
	}
	if m.version != V1 || m.parents["cpu"] != "/cg/cpu/agora" || m.parents["memory"] != "/cg/memory/agora" {
		t.Errorf("hybrid without v2 controllers: got v%d %v, want v1", m.version, m.parents)
	}

	m, err = plan(cfg, append(slices.Clone(v1), mount{point: full, fstype: "cgroup2"}))
	if err != nil {
		t.Fatal(err)
	}
	if m.version != V2 || !slices.Equal(m.controllers, []string{"cpu", "memory"}) || m.parents[unified] != filepath.Join(full, "agora") {
		t.Errorf("unified with controllers: got v%d %v %v, want v2", m.version, m.controllers, m.parents)
	}

	if _, err := plan(cfg, nil); err == nil {
		t.Error("plan without mounts: want an error")
	}
}

// fakeManager returns an enabled Manager whose hierarchies are plain
// directories, to check what Create writes.
func fakeManager(t *testing.T, v Version, cfg Config) (*Manager, string) {
	t.Helper()
	root := t.TempDir()
	m := &Manager{cfg: cfg.withDefaults(), version: v, controllers: []string{"cpu", "memory"}, parents: map[string]string{}}
	if v == V1 {
		m.parents["cpu"] = filepath.Join(root, "cpu", "agora")
		m.parents["memory"] = filepath.Join(root, "memory", "agora")
	} else {
		m.parents[unified] = filepath.Join(root, "agora")
		m.v2root = root
	}
	for _, p := range m.parents {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return m, root
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCreateV1WritesLimits(t *testing.T) {
	m, root := fakeManager(t, V1, Config{})
	cg, err := m.Create("task-1", Limits{CPUs: 0.5, MemoryBytes: 32 << 20})
	if err != nil {
		t.Fatal(err)
	}
	cpu, mem := filepath.Join(root, "cpu", "agora", "task-1"), filepath.Join(root, "memory", "agora", "task-1")
	for file, want := range map[string]string{
		filepath.Join(cpu, "cpu.shares"):                  "512",
		filepath.Join(cpu, "cpu.cfs_period_us"):           "100000",
		filepath.Join(cpu, "cpu.cfs_quota_us"):            "50000",
		filepath.Join(mem, "memory.limit_in_bytes"):       "33554432",
		filepath.Join(mem, "memory.memsw.limit_in_bytes"): "33554432",
	} {
		if got := readFile(t, file); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	want := []string{filepath.Join(cpu, "cgroup.procs"), filepath.Join(mem, "cgroup.procs")}
	if got := cg.ProcsFiles(); !slices.Equal(got, want) {
		t.Errorf("ProcsFiles = %v, want %v", got, want)
	}
	if _, err := m.Create("task-1", Limits{}); err == nil {
		t.Error("creating an existing cgroup: want an error")
	}
	for _, bad := range []string{"", "..", "a/b", "a b"} {
		if _, err := m.Create(bad, Limits{}); err == nil {
			t.Errorf("Create(%q): want an error", bad)
		}
	}
	if m.String() != "cgroups-v1(cpu,memory)" {
		t.Errorf("String = %q", m.String())
	}
}

func TestCreateV1WithoutQuota(t *testing.T) {
	m, root := fakeManager(t, V1, Config{NoCPUQuota: true})
	if _, err := m.Create("t", Limits{CPUs: 2}); err != nil {
		t.Fatal(err)
	}
	cpu := filepath.Join(root, "cpu", "agora", "t")
	if got := readFile(t, filepath.Join(cpu, "cpu.shares")); got != "2048" {
		t.Errorf("cpu.shares = %q, want 2048", got)
	}
	if _, err := os.Stat(filepath.Join(cpu, "cpu.cfs_quota_us")); !os.IsNotExist(err) {
		t.Errorf("cpu.cfs_quota_us written although NoCPUQuota (err %v)", err)
	}
	if _, err := os.Stat(filepath.Join(root, "memory", "agora", "t", "memory.limit_in_bytes")); !os.IsNotExist(err) {
		t.Errorf("memory limit written although MemoryBytes is 0 (err %v)", err)
	}
}

func TestCreateV2WritesLimits(t *testing.T) {
	m, root := fakeManager(t, V2, Config{})
	cg, err := m.Create("t", Limits{CPUs: 1.5, MemoryBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	d := filepath.Join(root, "agora", "t")
	for file, want := range map[string]string{
		"cpu.weight":      fmt.Sprint(sharesToWeight(1536)),
		"cpu.max":         "150000 100000",
		"memory.max":      "67108864",
		"memory.swap.max": "0",
	} {
		if got := readFile(t, filepath.Join(d, file)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	if got := cg.ProcsFiles(); !slices.Equal(got, []string{filepath.Join(d, "cgroup.procs")}) {
		t.Errorf("ProcsFiles = %v", got)
	}
	if st := cg.State(); st.Version != V2 || st.Dirs[unified] != d {
		t.Errorf("State = %+v", st)
	}
}

func TestSetupV2EnablesControllersDownToParent(t *testing.T) {
	m, root := fakeManager(t, V2, Config{Parent: "a/b"})
	m.parents[unified] = filepath.Join(root, "a", "b")
	for _, c := range m.controllers {
		if err := m.setup(c); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{root, filepath.Join(root, "a"), filepath.Join(root, "a", "b")} {
		// A plain file keeps only the last write; cgroupfs accumulates.
		if got := readFile(t, filepath.Join(d, "cgroup.subtree_control")); got != "+memory" {
			t.Errorf("%s/cgroup.subtree_control = %q, want the last write +memory", d, got)
		}
	}
}

func TestSharesToWeight(t *testing.T) {
	for shares, want := range map[uint64]uint64{0: 1, 2: 1, 1024: 39, 262144: 10000, 1 << 30: 10000} {
		if got := sharesToWeight(shares); got != want {
			t.Errorf("sharesToWeight(%d) = %d, want %d", shares, got, want)
		}
	}
}

func TestOOMKillsParsing(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	v1 := &Cgroup{st: State{Version: V1, Dirs: map[string]string{"memory": dir}}}
	write("memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
	if n, err := v1.OOMKills(); err != nil || n != 2 {
		t.Errorf("v1 OOMKills = %d, %v; want 2", n, err)
	}
	write("memory.oom_control", "oom_kill_disable 0\nunder_oom 1\n")
	if n, err := v1.OOMKills(); err != nil || n != 1 {
		t.Errorf("v1 old kernel OOMKills = %d, %v; want 1", n, err)
	}
	v2 := &Cgroup{st: State{Version: V2, Dirs: map[string]string{unified: dir}}}
	write("memory.events", "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n")
	if n, err := v2.OOMKills(); err != nil || n != 1 {
		t.Errorf("v2 OOMKills = %d, %v; want 1", n, err)
	}
	cpuOnly := &Cgroup{st: State{Version: V1, Dirs: map[string]string{"cpu": dir}}}
	if n, err := cpuOnly.OOMKills(); err != nil || n != 0 {
		t.Errorf("cpu-only OOMKills = %d, %v; want 0", n, err)
	}
}

func TestOpenValidates(t *testing.T) {
	for _, st := range []State{
		{},
		{Version: V1},
		{Version: V1, Dirs: map[string]string{"cpu": "relative"}},
		{Version: V2, Dirs: map[string]string{unified: "/a/../b"}},
		{Version: 7, Dirs: map[string]string{unified: "/a"}},
	} {
		if _, err := Open(st); err == nil {
			t.Errorf("Open(%+v): want an error", st)
		}
	}
	cg, err := Open(State{Version: V1, Dirs: map[string]string{"cpu": "/nonexistent/agora/x"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cg.Destroy(ctx); err != nil {
		t.Errorf("Destroy of a vanished cgroup: %v", err)
	}
}

func TestDetectDisabled(t *testing.T) {
	m := Detect(Config{Disable: true})
	if m.Enabled() || m.Version() != None || m.String() != "none: disabled by configuration" {
		t.Errorf("got %q enabled=%v", m.String(), m.Enabled())
	}
	if _, err := m.Create("x", Limits{}); err != ErrDisabled {
		t.Errorf("Create on disabled: %v, want ErrDisabled", err)
	}
	if m := Detect(Config{Parent: "../escape"}); m.Enabled() {
		t.Error("a parent with .. must disable isolation")
	}
}

// skipWithoutCgroups skips a test that needs cgroups the machine does not
// offer, or fails it when AGORA_REQUIRE_CGROUPS=1 says they must be there
// (CI runs as root with cgroup v1 cpu and memory mounted).
func skipWithoutCgroups(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("AGORA_REQUIRE_CGROUPS") == "1" {
		t.Fatal("AGORA_REQUIRE_CGROUPS=1 but", why)
	}
	t.Skip(why)
}

// realManager detects cgroups under a parent private to this test run, or
// skips the test.
func realManager(t *testing.T) *Manager {
	t.Helper()
	m := Detect(Config{Parent: fmt.Sprintf("agora-test-%d", os.Getpid())})
	t.Cleanup(m.RemoveParent)
	if !m.Enabled() {
		skipWithoutCgroups(t, "cgroups not usable here: "+m.String())
	}
	t.Log("isolation:", m.String())
	return m
}

func TestRealCgroupJoinAndDestroy(t *testing.T) {
	m := realManager(t)
	cg, err := m.Create("join", Limits{CPUs: 0.5, MemoryBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	args := append([]string{"-c", `for f in "$@"; do echo $$ > "$f" || exit 1; done; exec sleep 30`, "t"}, cg.ProcsFiles()...)
	cmd := exec.Command("/bin/sh", args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		pids, err := cg.Pids()
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(pids, cmd.Process.Pid) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("pid %d never joined the cgroup (members %v)", cmd.Process.Pid, pids)
		case <-tick.C:
		}
	}
	if err := cg.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-waited; err == nil {
		t.Error("the process in the cgroup survived Destroy")
	}
	for _, d := range cg.State().Dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s still exists after Destroy (%v)", d, err)
		}
	}
}

func TestRealOOMKillIsCounted(t *testing.T) {
	m := realManager(t)
	if !slices.Contains(m.Controllers(), "memory") {
		skipWithoutCgroups(t, "no memory controller: "+m.String())
	}
	cg, err := m.Create("oom", Limits{MemoryBytes: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	defer cg.Destroy(ctx)
	args := append([]string{"-c", `for f in "$@"; do echo $$ > "$f" || exit 1; done; head -c 100000000 /dev/zero | tail > /dev/null`, "t"}, cg.ProcsFiles()...)
	out, err := exec.CommandContext(ctx, "/bin/sh", args...).CombinedOutput()
	if err == nil {
		t.Fatalf("the memory hog succeeded under a 16 MB limit: %s", out)
	}
	n, err := cg.OOMKills()
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Errorf("OOMKills = 0 after the hog was killed (%s)", out)
	}
}

func TestConcurrentDetectsAgree(t *testing.T) {
	parent := fmt.Sprintf("agora-test-%d", os.Getpid())
	first := Detect(Config{Parent: parent})
	t.Cleanup(first.RemoveParent)
	results := make(chan string, 4)
	for range 4 {
		go func() { results <- Detect(Config{Parent: parent}).String() }()
	}
	for range 4 {
		if got := <-results; got != first.String() {
			t.Errorf("concurrent Detect = %q, want %q", got, first.String())
		}
	}
}
