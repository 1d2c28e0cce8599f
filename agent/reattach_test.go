package agent_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// The restart tests prove a re-attach with a task that the test controls:
// it writes its pid to dir/pid and runs until the test creates dir/go. So
// the task is alive across the restart (its pid is checked), it cannot end
// while no agent watches it, and its terminal update can only come from
// the restarted agent's watcher.

// gatedTask is a task that records its pid and waits for the go file.
func gatedTask(id, dir string) wire.TaskInfo {
	return wire.TaskInfo{TaskID: wire.TaskID(id), Resources: wire.Resources{CPUs: 0.1, MemMB: 32},
		Command: wire.CommandInfo{Shell: true, Value: fmt.Sprintf(
			"echo $$ > '%s/pid'; while [ ! -e '%s/go' ]; do sleep 0.05; done", dir, dir)}}
}

// gatedPid waits for the pid the gated task wrote.
func gatedPid(t *testing.T, dir string) int {
	t.Helper()
	var pid int
	sdktest.Eventually(t, 10*time.Second, func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "pid"))
		if err != nil || !bytes.HasSuffix(b, []byte("\n")) {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0
	}, "the task wrote its pid")
	return pid
}

// processAlive reports whether pid is a live process (not a zombie).
func processAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	state := b[i+2]
	return state != 'Z' && state != 'X'
}

// release lets the gated task end and returns when it was let go.
func release(t *testing.T, dir string) time.Time {
	t.Helper()
	at := time.Now()
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return at
}

// checkNoTerminal fails if task already has a terminal update.
func checkNoTerminal(t *testing.T, rec *sdktest.Recorder, task wire.TaskID) {
	t.Helper()
	for _, u := range rec.Updates() {
		if u.TaskID == task && u.State.Terminal() {
			t.Fatalf("task %s ended before it was released: %+v", task, u)
		}
	}
}

// checkWatchedFinish checks that the task's FINISHED came from a watcher
// of the live process after it was released, not from an exit status
// found after the fact.
func checkWatchedFinish(t *testing.T, fin wire.TaskStatus, agent wire.AgentID, released time.Time) {
	t.Helper()
	if fin.ExitCode == nil || *fin.ExitCode != 0 || fin.AgentID != agent || fin.Source != wire.SourceAgent {
		t.Fatalf("finished %+v", fin)
	}
	if strings.Contains(fin.Message, "while the agent was down") {
		t.Fatalf("the task's end was found after the fact, not watched: %q", fin.Message)
	}
	if fin.Timestamp.Before(released) {
		t.Fatalf("FINISHED at %s, before the task was released at %s", fin.Timestamp, released)
	}
}
