//go:build linux

package launcher

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agora-cluster/agora/agent/isolation"
	"github.com/agora-cluster/agora/sdk/wire"
)

func TestExitZeroFinishesAndOutputLandsInFiles(t *testing.T) {
	dir := t.TempDir()
	e := newTestExecutor(t, dir)
	task := launch(t, e, shellSpec("ok", "echo hello; echo oops >&2"))
	ex := waitDone(t, task, 10*time.Second)
	if ex.State != wire.TaskFinished || ex.ExitCode == nil || *ex.ExitCode != 0 || ex.Signal != "" {
		t.Fatalf("exit = %+v, want TASK_FINISHED with code 0", ex)
	}
	if want := SandboxDir(dir, "fw-1", "ok", 0); task.Sandbox() != want {
		t.Errorf("sandbox = %s, want %s", task.Sandbox(), want)
	}
	if got := readSandboxFile(t, task, StdoutFile); got != "hello\n" {
		t.Errorf("stdout = %q", got)
	}
	if got := readSandboxFile(t, task, StderrFile); got != "oops\n" {
		t.Errorf("stderr = %q", got)
	}
	rec, err := ReadExit(task.Sandbox())
	if err != nil || rec.State != wire.TaskFinished {
		t.Errorf("recorded exit = %+v, %v", rec, err)
	}
	if _, err := task.Usage(); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Usage after exit: %v, want ErrNotRunning", err)
	}
}

func TestExitCodeFails(t *testing.T) {
	e := newTestExecutor(t, t.TempDir())
	ex := waitDone(t, launch(t, e, shellSpec("three", "exit 3")), 10*time.Second)
	if ex.State != wire.TaskFailed || ex.Reason != wire.ReasonCommandExited || ex.ExitCode == nil || *ex.ExitCode != 3 {
		t.Fatalf("exit = %+v, want TASK_FAILED with code 3", ex)
	}
	if ex.Message != "exited with code 3" {
		t.Errorf("message = %q", ex.Message)
	}
}

func TestSignalledTaskFails(t *testing.T) {
	e := newTestExecutor(t, t.TempDir())
	ex := waitDone(t, launch(t, e, shellSpec("segv", "kill -SEGV $$")), 10*time.Second)
	if ex.State != wire.TaskFailed || ex.Signal != "SIGSEGV" || ex.ExitCode != nil {
		t.Fatalf("exit = %+v, want TASK_FAILED by SIGSEGV", ex)
	}
}

func TestProgramWithArgs(t *testing.T) {
	e := newTestExecutor(t, t.TempDir())
	spec := shellSpec("args", "")
	spec.Task.Command = wire.CommandInfo{Value: "echo", Args: []string{"a  b", "$HOME"}}
	task := launch(t, e, spec)
	if ex := waitDone(t, task, 10*time.Second); ex.State != wire.TaskFinished {
		t.Fatalf("exit = %+v", ex)
	}
	if got := readSandboxFile(t, task, StdoutFile); got != "a  b $HOME\n" {
		t.Errorf("stdout = %q: arguments must reach the program verbatim", got)
	}

	// The program runs by its path, not as the shell builtin "echo".
	argv, err := e.argv(spec, task.Sandbox(), []string{"PATH=/nonexistent:/bin"})
	if err != nil || len(argv) != 3 || argv[0] != "/bin/echo" {
		t.Errorf("argv = %q, %v; want /bin/echo first", argv, err)
	}

	spec = shellSpec("missing", "")
	spec.Task.Command = wire.CommandInfo{Value: "no-such-program-agora"}
	if _, err := e.Launch(context.Background(), spec); !errors.Is(err, ErrLaunch) {
		t.Errorf("launch of a missing program: %v, want ErrLaunch", err)
	}
	if _, err := os.Stat(SandboxDir(e.WorkDir(), "fw-1", "missing", 0)); !os.IsNotExist(err) {
		t.Errorf("a failed launch left its sandbox behind (%v)", err)
	}
}

func TestLaunchRejectsBadSpecs(t *testing.T) {
	dir := t.TempDir()
	e := newTestExecutor(t, dir)
	sim := shellSpec("sim", "true")
	sim.Task.Sim = &wire.SimBehavior{}
	noCmd := shellSpec("nocmd", "")
	badEnv := shellSpec("env", "true")
	badEnv.Task.Env = map[string]string{"A=B": "c"}
	noFw := shellSpec("nofw", "true")
	noFw.FrameworkID = ""
	for name, spec := range map[string]Spec{
		"sim":       sim,
		"no cmd":    noCmd,
		"bad env":   badEnv,
		"no fw":     noFw,
		"traversal": shellSpec("..", "true"),
		"slash":     shellSpec("a/b", "true"),
	} {
		if _, err := e.Launch(context.Background(), spec); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("%s: %v, want ErrInvalidSpec", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "frameworks")); !os.IsNotExist(err) {
		t.Errorf("a rejected spec left a sandbox behind (%v)", err)
	}
}

func TestRunNumberTakesNextFree(t *testing.T) {
	dir := t.TempDir()
	e := newTestExecutor(t, dir)
	a := launch(t, e, shellSpec("again", "true"))
	b := launch(t, e, shellSpec("again", "true"))
	waitDone(t, a, 10*time.Second)
	waitDone(t, b, 10*time.Second)
	if a.Sandbox() != SandboxDir(dir, "fw-1", "again", 0) || b.Sandbox() != SandboxDir(dir, "fw-1", "again", 1) {
		t.Errorf("sandboxes %s and %s, want runs 0 and 1", a.Sandbox(), b.Sandbox())
	}
	if b.Checkpoint().Spec.Run != 1 {
		t.Errorf("checkpoint run = %d, want 1", b.Checkpoint().Spec.Run)
	}
}

func TestEnvironment(t *testing.T) {
	t.Setenv("AGORA_LAUNCHER_SECRET", "leak")
	e := newTestExecutor(t, t.TempDir())
	spec := shellSpec("env-task", "env")
	spec.Ports = []uint64{31000, 31005}
	spec.Task.Env = map[string]string{"FOO": "bar baz", "AGORA_TASK_ID": "spoofed"}
	task := launch(t, e, spec)
	if ex := waitDone(t, task, 10*time.Second); ex.State != wire.TaskFinished {
		t.Fatalf("exit = %+v", ex)
	}
	env := strings.Split(strings.TrimSpace(readSandboxFile(t, task, StdoutFile)), "\n")
	for _, want := range []string{
		"AGORA_TASK_ID=env-task", "AGORA_FRAMEWORK_ID=fw-1", "AGORA_SANDBOX=" + task.Sandbox(),
		"HOME=" + task.Sandbox(), "AGORA_MESSAGES=" + filepath.Join(task.Sandbox(), MessagesFile), "PORT0=31000", "PORT1=31005", "PORT=31000", "FOO=bar baz",
	} {
		if !slices.Contains(env, want) {
			t.Errorf("environment lacks %s:\n%s", want, strings.Join(env, "\n"))
		}
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, "AGORA_LAUNCHER_SECRET=") || strings.HasPrefix(kv, "__agora") {
			t.Errorf("environment has %s", kv)
		}
	}
}

func TestKillAfterGraceSendsSIGKILL(t *testing.T) {
	e := newTestExecutor(t, t.TempDir())
	task := launch(t, e, shellSpec("stubborn", "trap '' TERM; echo ready > ready; sleep 30"))
	waitFile(t, task, "ready")
	task.Kill(300*time.Millisecond, wire.ReasonKilledByFramework)
	task.Kill(time.Hour, wire.ReasonAgentRestarted) // idempotent: ignored
	ex := waitDone(t, task, 10*time.Second)
	if ex.State != wire.TaskKilled || ex.Signal != "SIGKILL" || ex.Reason != wire.ReasonKilledByFramework {
		t.Fatalf("exit = %+v, want TASK_KILLED by SIGKILL, REASON_KILLED_BY_FRAMEWORK", ex)
	}
	if ex.Message != "killed by SIGKILL after 300ms grace" {
		t.Errorf("message = %q", ex.Message)
	}
}

func TestKillWellBehavedTaskEndsOnTERM(t *testing.T) {
	e := newTestExecutor(t, t.TempDir())
	task := launch(t, e, shellSpec("polite", "echo ready > ready; sleep 30"))
	waitFile(t, task, "ready")
	task.Kill(time.Minute, wire.ReasonTaskUnhealthy)
	ex := waitDone(t, task, 30*time.Second)
	if ex.State != wire.TaskKilled || ex.Signal != "SIGTERM" || ex.Reason != wire.ReasonTaskUnhealthy {
		t.Fatalf("exit = %+v, want TASK_KILLED by SIGTERM", ex)
	}
}

func TestKillDefaultGraceComesFromTask(t *testing.T) {
	e := newTestExecutor(t, t.TempDir()) // executor default: 5s
	spec := shellSpec("grace", "trap '' TERM; echo ready > ready; sleep 30")
	spec.Task.KillGrace = wire.Duration(100 * time.Millisecond)
	task := launch(t, e, spec)
	waitFile(t, task, "ready")
	task.Kill(0, "")
	ex := waitDone(t, task, 10*time.Second)
	if ex.Message != "killed by SIGKILL after 100ms grace" || ex.Reason != wire.ReasonKilledByFramework {
		t.Fatalf("exit = %+v, want the task's 100ms grace", ex)
	}
}

func TestKillReachesTheWholeProcessGroup(t *testing.T) {
	e := newTestExecutor(t, t.TempDir())
	task := launch(t, e, shellSpec("family", "sleep 300 & echo $! > child.pid; wait"))
	child := atoi(t, waitFile(t, task, "child.pid"))
	if processGone(child) {
		t.Fatalf("child %d is not running", child)
	}
	task.Kill(5*time.Second, wire.ReasonKilledByFramework)
	if ex := waitDone(t, task, 10*time.Second); ex.State != wire.TaskKilled {
		t.Fatalf("exit = %+v", ex)
	}
	eventually(t, 5*time.Second, func() (bool, string) { return processGone(child), "child sleep still runs" })
}

func TestLeftoversDieWithTheTask(t *testing.T) {
	e := newTestExecutor(t, t.TempDir())
	task := launch(t, e, shellSpec("daemonizer", "sleep 300 & echo $! > child.pid"))
	ex := waitDone(t, task, 10*time.Second)
	if ex.State != wire.TaskFinished {
		t.Fatalf("exit = %+v", ex)
	}
	child := atoi(t, readSandboxFile(t, task, "child.pid"))
	eventually(t, 5*time.Second, func() (bool, string) { return processGone(child), "background sleep outlived its task" })
}

func TestUsage(t *testing.T) {
	e := newTestExecutor(t, t.TempDir())
	task := launch(t, e, shellSpec("busy", "echo ready > ready; sleep 30"))
	waitFile(t, task, "ready")
	u, err := task.Usage()
	if err != nil {
		t.Fatal(err)
	}
	if u.Processes < 2 || u.RSSBytes == 0 {
		t.Errorf("usage = %+v, want the wrapper and the sleep with some memory", u)
	}
	task.Kill(-1, "")
	waitDone(t, task, 10*time.Second)
	if _, err := task.Usage(); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Usage after kill: %v", err)
	}
}

func TestCgroupLimitsAreApplied(t *testing.T) {
	e := newTestExecutor(t, t.TempDir())
	cgroupAvailable(t, e, "cpu")
	spec := shellSpec("limited", "echo ready > ready; sleep 30")
	spec.Task.Resources = wire.Resources{CPUs: 0.5, MemMB: 64}
	task := launch(t, e, spec)
	waitFile(t, task, "ready")
	cp := task.Checkpoint()
	if cp.Cgroup == nil {
		t.Fatalf("no cgroup although isolation is %s", e.Isolation())
	}
	cg, err := isolation.Open(*cp.Cgroup)
	if err != nil {
		t.Fatal(err)
	}
	pids, err := cg.Pids()
	if err != nil || !slices.Contains(pids, task.Pid()) {
		t.Errorf("cgroup members %v (%v) lack the task's pid %d", pids, err, task.Pid())
	}
	if cp.Cgroup.Version == isolation.V1 {
		b, err := os.ReadFile(filepath.Join(cp.Cgroup.Dirs["cpu"], "cpu.cfs_quota_us"))
		if err != nil || strings.TrimSpace(string(b)) != "50000" {
			t.Errorf("cpu.cfs_quota_us = %q (%v), want 50000", b, err)
		}
	}
	task.Kill(-1, "")
	waitDone(t, task, 10*time.Second)
	for _, d := range cp.Cgroup.Dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("cgroup %s survived its task (%v)", d, err)
		}
	}
}

func TestMemoryLimitEndsTaskFailed(t *testing.T) {
	e := newTestExecutor(t, t.TempDir())
	cgroupAvailable(t, e, "memory")
	spec := shellSpec("hog", "head -c 200000000 /dev/zero | tail > /dev/null")
	spec.Task.Resources = wire.Resources{CPUs: 1, MemMB: 32}
	ex := waitDone(t, launch(t, e, spec), 30*time.Second)
	if ex.State != wire.TaskFailed || ex.Reason != wire.ReasonMemoryLimit {
		t.Fatalf("exit = %+v, want TASK_FAILED with REASON_MEMORY_LIMIT", ex)
	}
	if !strings.Contains(ex.Message, "memory limit of 32 MB exceeded") {
		t.Errorf("message = %q", ex.Message)
	}
}

func TestNoIsolationWhenDisabled(t *testing.T) {
	e, err := NewProcessExecutor(ProcessConfig{WorkDir: t.TempDir(), Logger: quietLogger(), Isolation: isolation.Config{Disable: true}})
	if err != nil {
		t.Fatal(err)
	}
	if e.Isolation() != "none: disabled by configuration" {
		t.Errorf("Isolation = %q", e.Isolation())
	}
	spec := shellSpec("free", "true")
	spec.Task.Resources = wire.Resources{CPUs: 1, MemMB: 32}
	task := launch(t, e, spec)
	if task.Checkpoint().Cgroup != nil {
		t.Error("a cgroup was created although isolation is disabled")
	}
	if ex := waitDone(t, task, 10*time.Second); ex.State != wire.TaskFinished {
		t.Errorf("exit = %+v", ex)
	}
}

// roundTrip passes a checkpoint through JSON, as the agent persists it.
func roundTrip(t *testing.T, cp Checkpoint) Checkpoint {
	t.Helper()
	b, err := json.Marshal(cp)
	if err != nil {
		t.Fatal(err)
	}
	var out Checkpoint
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAttachAfterAgentRestart(t *testing.T) {
	dir := t.TempDir()
	first := newTestExecutor(t, dir)
	spec := shellSpec("survivor", "echo ready > ready; while [ ! -f go ]; do sleep 0.02; done; exit 7")
	spec.Task.Resources = wire.Resources{CPUs: 0.5, MemMB: 64}
	orig := launch(t, first, spec)
	waitFile(t, orig, "ready")
	cp := roundTrip(t, orig.Checkpoint())

	second := newTestExecutor(t, dir) // the "restarted agent"
	task, err := second.Attach(context.Background(), cp)
	if err != nil {
		t.Fatal(err)
	}
	if task.Pid() != orig.Pid() || task.Sandbox() != orig.Sandbox() {
		t.Fatalf("attached to pid %d in %s, want %d in %s", task.Pid(), task.Sandbox(), orig.Pid(), orig.Sandbox())
	}
	select {
	case <-task.Done():
		t.Fatalf("attached task ended at once: %+v", task.Exit())
	default:
	}
	if u, err := task.Usage(); err != nil || u.Processes == 0 {
		t.Errorf("usage of the attached task = %+v, %v", u, err)
	}
	if err := os.WriteFile(filepath.Join(task.Sandbox(), "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ex := waitDone(t, task, 10*time.Second)
	if ex.State != wire.TaskFailed || ex.ExitCode == nil || *ex.ExitCode != 7 {
		t.Fatalf("attached exit = %+v, want TASK_FAILED with code 7 from the wrapper's status file", ex)
	}
	waitDone(t, orig, 10*time.Second)

	// A third agent, after the task ended, still learns how it ended.
	late, err := newTestExecutor(t, dir).Attach(context.Background(), cp)
	if err != nil {
		t.Fatalf("attach to an ended task with a status file: %v", err)
	}
	if ex := waitDone(t, late, time.Second); ex.ExitCode == nil || *ex.ExitCode != 7 {
		t.Errorf("late exit = %+v, want code 7", ex)
	}
}

func TestKillAttachedTask(t *testing.T) {
	dir := t.TempDir()
	orig := launch(t, newTestExecutor(t, dir), shellSpec("attached-kill", "echo ready > ready; sleep 30"))
	waitFile(t, orig, "ready")
	task, err := newTestExecutor(t, dir).Attach(context.Background(), roundTrip(t, orig.Checkpoint()))
	if err != nil {
		t.Fatal(err)
	}
	task.Kill(10*time.Second, wire.ReasonFrameworkRemoved)
	ex := waitDone(t, task, 10*time.Second)
	if ex.State != wire.TaskKilled || ex.Reason != wire.ReasonFrameworkRemoved || ex.Signal != "SIGTERM" {
		t.Fatalf("exit = %+v, want TASK_KILLED by SIGTERM, REASON_FRAMEWORK_REMOVED", ex)
	}
	waitDone(t, orig, 10*time.Second)
}

func TestAttachRejectsWrongIdentity(t *testing.T) {
	// Without a cgroup, so that nothing but the identity check stands
	// between Attach and the real task's process group.
	e, err := NewProcessExecutor(ProcessConfig{WorkDir: t.TempDir(), Logger: quietLogger(), Isolation: isolation.Config{Disable: true}})
	if err != nil {
		t.Fatal(err)
	}
	orig := launch(t, e, shellSpec("imposter", "echo ready > ready; sleep 30"))
	waitFile(t, orig, "ready")

	cp := orig.Checkpoint()
	cp.StartTicks++ // as if the pid had been reused by another process
	if _, err := e.Attach(context.Background(), cp); !errors.Is(err, ErrGone) {
		t.Errorf("attach with a wrong start time: %v, want ErrGone", err)
	}
	cp = orig.Checkpoint()
	cp.Executor = "sim"
	if _, err := e.Attach(context.Background(), cp); !errors.Is(err, ErrWrongExecutor) {
		t.Errorf("attach of a sim checkpoint: %v, want ErrWrongExecutor", err)
	}
	// The process that merely has the pid must not have been touched: had
	// Attach sent it SIGKILL, that would be how it ended.
	orig.Kill(time.Minute, "")
	if ex := waitDone(t, orig, 10*time.Second); ex.Signal != "SIGTERM" {
		t.Errorf("the unrelated process ended by %+v: Attach signalled it", ex)
	}
}

func TestAttachToEndedTask(t *testing.T) {
	dir := t.TempDir()
	e := newTestExecutor(t, dir)
	task := launch(t, e, shellSpec("vanished", "exit 5"))
	waitDone(t, task, 10*time.Second)
	cp := task.Checkpoint()

	// The wrapper's status alone (the agent was down when the task ended).
	if err := os.Remove(filepath.Join(cp.Sandbox, ExitFile)); err != nil {
		t.Fatal(err)
	}
	late, err := e.Attach(context.Background(), cp)
	if err != nil {
		t.Fatalf("attach with only the status file: %v", err)
	}
	if ex := waitDone(t, late, time.Second); ex.State != wire.TaskFailed || ex.ExitCode == nil || *ex.ExitCode != 5 {
		t.Errorf("exit from the status file = %+v, want code 5", ex)
	}

	// Nothing at all: gone, and the run is marked finished for the GC.
	for _, f := range []string{ExitFile, ExitStatusFile} {
		if err := os.Remove(filepath.Join(cp.Sandbox, f)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Attach(context.Background(), cp); !errors.Is(err, ErrGone) {
		t.Errorf("attach without process or status: %v, want ErrGone", err)
	}
	if ex, err := ReadExit(cp.Sandbox); err != nil || ex.Reason != wire.ReasonAgentRestarted {
		t.Errorf("recorded exit after ErrGone = %+v, %v", ex, err)
	}
}
