//go:build linux

package launcher

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agora-cluster/agora/agent/isolation"
	"github.com/agora-cluster/agora/sdk/wire"
)

func removeTestCgroupParent() {
	for _, c := range []string{"cpu", "memory", "unified"} {
		_ = os.Remove(filepath.Join("/sys/fs/cgroup", c, testParent))
	}
	_ = os.Remove(filepath.Join("/sys/fs/cgroup", testParent))
}

func newTestExecutor(t *testing.T, workDir string) *ProcessExecutor {
	t.Helper()
	e, err := NewProcessExecutor(ProcessConfig{
		WorkDir:            workDir,
		DefaultKillGrace:   5 * time.Second,
		Logger:             quietLogger(),
		Isolation:          isolation.Config{Parent: testParent},
		AttachPollInterval: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func shellSpec(id, script string) Spec {
	return Spec{
		FrameworkID: "fw-1",
		Task: wire.TaskInfo{
			TaskID: wire.TaskID(id), AgentID: "agent-1",
			Command: wire.CommandInfo{Shell: true, Value: script},
		},
	}
}

func launch(t *testing.T, e Executor, spec Spec) Task {
	t.Helper()
	task, err := e.Launch(context.Background(), spec)
	if err != nil {
		t.Fatalf("launch %s: %v", spec.Task.TaskID, err)
	}
	t.Cleanup(func() {
		task.Kill(-1, "")
		<-task.Done()
	})
	return task
}

func readSandboxFile(t *testing.T, task Task, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(task.Sandbox(), name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitFile waits until the task has written name into its sandbox and
// returns its trimmed content.
func waitFile(t *testing.T, task Task, name string) string {
	t.Helper()
	var s string
	eventually(t, 10*time.Second, func() (bool, string) {
		b, err := os.ReadFile(filepath.Join(task.Sandbox(), name))
		s = strings.TrimSpace(string(b))
		return err == nil && strings.HasSuffix(string(b), "\n"), "no " + name + " yet"
	})
	return s
}

// processGone reports whether pid has exited (zombies count as gone:
// nobody may reap an orphan in a container).
func processGone(pid int) bool {
	st, err := readStat(pid)
	return err != nil || st.dead()
}

// cgroupAvailable skips a test when the executor has no such cgroup
// controller, or fails it when AGORA_REQUIRE_CGROUPS=1 says it must have
// one (CI runs as root with cgroup v1 cpu and memory mounted).
func cgroupAvailable(t *testing.T, e *ProcessExecutor, controller string) {
	t.Helper()
	if slices.Contains(e.iso.Controllers(), controller) {
		return
	}
	if os.Getenv("AGORA_REQUIRE_CGROUPS") == "1" {
		t.Fatalf("AGORA_REQUIRE_CGROUPS=1 but no %s cgroup controller: %s", controller, e.Isolation())
	}
	t.Skipf("no %s cgroup controller: %s", controller, e.Isolation())
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
