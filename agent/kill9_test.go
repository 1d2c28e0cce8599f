package agent_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// TestKill9AgentProcess runs the agent as a real separate process built
// from this repository, kills it with SIGKILL while a task runs, starts it
// again with the same work dir, and sees the task still RUNNING and later
// FINISHED.
func TestKill9AgentProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the agora binary")
	}
	bin := filepath.Join(t.TempDir(), "agora")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = repoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	c := sdktest.Start(t, sdktest.Masters(1))
	workDir := t.TempDir()
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "agent", "--nats", strings.Join(c.NATSURLs(), ","), "--work-dir", workDir,
			"--resources", "cpus:1;mem:256;disk:100", "--log-level", "warn")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
		return cmd
	}
	agentProc := start()

	rec := sdktest.NewRecorder()
	d := c.RunDriver(t, wire.FrameworkInfo{Name: "kill9"}, rec)
	rec.WaitSubscribed(t, 5*time.Second, 1)
	o := rec.TakeOffer(t, 15*time.Second, nil)
	task := wire.TaskInfo{TaskID: "s", Resources: wire.Resources{CPUs: 0.1, MemMB: 32}, Command: wire.CommandInfo{Value: "sleep 3", Shell: true}}
	if _, err := d.Launch(sdktest.Ctx(t, 5*time.Second), o, task); err != nil {
		t.Fatal(err)
	}
	running := rec.WaitState(t, 10*time.Second, "s", wire.TaskRunning)

	if err := agentProc.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = agentProc.Process.Wait()
	restarted := time.Now()
	start()

	// The restarted agent keeps its ID and reports the task still running.
	sdktest.Eventually(t, 10*time.Second, func() bool {
		for _, a := range c.Leader().StateView().Agents {
			if a.ID == running.AgentID && a.State == "ACTIVE" && a.Used.CPUs == 0.1 {
				return true
			}
		}
		return false
	}, "agent %s re-registered with the task", running.AgentID)
	if _, err := d.Reconcile(sdktest.Ctx(t, 5*time.Second), wire.ReconcileTask{TaskID: "s", AgentID: running.AgentID}); err != nil {
		t.Fatal(err)
	}
	rec.WaitUpdate(t, 5*time.Second, func(s wire.TaskStatus) bool {
		return s.TaskID == "s" && s.State == wire.TaskRunning && s.Timestamp.After(restarted)
	})
	fin := rec.WaitState(t, 15*time.Second, "s", wire.TaskFinished)
	if fin.ExitCode == nil || *fin.ExitCode != 0 || fin.AgentID != running.AgentID {
		t.Fatalf("finished %+v", fin)
	}
}

func repoRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}
