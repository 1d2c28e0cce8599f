package agent_test

import (
	"io"
	"net"
	"net/http"
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
// from this repository, kills it with SIGKILL while a task runs, and starts
// it again with the same work dir: the new process registers (its metrics
// say so, with the task running), the task's process is still alive, and
// the task ends only when the test lets it, reported FINISHED by the new
// agent's watcher.
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
	start := func(metrics string) *exec.Cmd {
		cmd := exec.Command(bin, "agent", "--nats", strings.Join(c.NATSURLs(), ","), "--work-dir", workDir,
			"--resources", "cpus:1;mem:256;disk:100", "--log-level", "warn", "--metrics", metrics)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
		return cmd
	}
	agentProc := start(freeAddr(t))

	rec := sdktest.NewRecorder()
	d := c.RunDriver(t, wire.FrameworkInfo{Name: "kill9"}, rec)
	rec.WaitSubscribed(t, 5*time.Second, 1)
	o := rec.TakeOffer(t, 15*time.Second, nil)
	gate := t.TempDir()
	if _, err := d.Launch(sdktest.Ctx(t, 5*time.Second), o, gatedTask("s", gate)); err != nil {
		t.Fatal(err)
	}
	running := rec.WaitState(t, 10*time.Second, "s", wire.TaskRunning)
	pid := gatedPid(t, gate)

	if err := agentProc.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = agentProc.Process.Wait()
	metrics := freeAddr(t)
	start(metrics)

	// The new process registered, with the task re-attached and running.
	sdktest.Eventually(t, 15*time.Second, func() bool {
		body := scrape("http://" + metrics + "/metrics")
		return strings.Contains(body, "agora_agent_registered 1") &&
			strings.Contains(body, `agora_agent_tasks{state="TASK_RUNNING"} 1`)
	}, "the restarted agent registered with the task running")
	sdktest.Eventually(t, 10*time.Second, func() bool {
		for _, a := range c.Leader().StateView().Agents {
			if a.ID == running.AgentID && a.State == "ACTIVE" && a.Used.CPUs == 0.1 {
				return true
			}
		}
		return false
	}, "agent %s active with the task", running.AgentID)
	if !processAlive(pid) {
		t.Fatalf("task process %d did not survive the agent's kill -9 and restart", pid)
	}
	checkNoTerminal(t, rec, "s")
	released := release(t, gate)
	fin := rec.WaitState(t, 15*time.Second, "s", wire.TaskFinished)
	checkWatchedFinish(t, fin, running.AgentID, released)
}

// freeAddr returns a loopback address with a port that was free just now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// scrape returns the body at url, or "" on any error.
func scrape(url string) string {
	resp, err := http.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
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
