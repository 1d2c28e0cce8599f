package batch

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/sdktest"
)

// TestLogsFollow follows real tasks with `logs --follow`: output is
// printed while the task still writes and the command returns when the
// task ends; a task whose job has not run yet, then whose run has not
// launched it yet (parallelism 1), is waited for instead of refused.
func TestLogsFollow(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:2;mem:2048"))
	s := startFramework(t, c, t.TempDir())
	gates := t.TempDir()
	gate := func(i int) string { return filepath.Join(gates, fmt.Sprint("go", i)) }
	open := func(i int) {
		t.Helper()
		if err := os.WriteFile(gate(i), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Each task prints a line, waits for its gate, prints another.
	job := writeFile(t, "follow.yaml", fmt.Sprintf(`
name: follow
command: 'echo "first $BATCH_INSTANCE"; while [ ! -e %s/go$BATCH_INSTANCE ]; do sleep 0.05; done; echo "second $BATCH_INSTANCE"'
instances: 2
parallelism: 1
resources: {cpus: 0.1, mem: 16}
`, gates))
	if out, _, err := runCLI(t, s, "submit", job, "--no-run"); err != nil {
		t.Fatalf("submit: %v\n%s", err, out)
	}

	// The job has not run yet: following waits.
	second := startCLI(t, s, "logs", "follow", "--task", "1", "--follow")
	sdktest.Eventually(t, 10*time.Second, func() bool {
		return strings.Contains(second.errOut.String(), "the job has not run yet") || !second.running()
	},
		"logs --follow says it waits for the job's first run")
	if !second.running() {
		t.Fatalf("logs --follow of a job that has not run: %v\n%s%s", second.err, second.out.String(), second.errOut.String())
	}
	if out, _, err := runCLI(t, s, "run", "follow"); err != nil || !strings.Contains(out, "run 1 of follow started") {
		t.Fatalf("run: %v\n%s", err, out)
	}

	// Task 0 runs and waits at its gate: its first line is streamed
	// while it runs. Task 1 cannot start before task 0 ends, so the
	// first follower keeps waiting meanwhile.
	first := startCLI(t, s, "logs", "follow", "--task", "0", "--follow")
	sdktest.Eventually(t, 20*time.Second, func() bool { return first.out.String() == "first 0\n" || !first.running() },
		"task 0's first line while it runs")
	if !first.running() {
		t.Fatalf("logs --follow of a running task returned: %v\n%q", first.err, first.out.String())
	}
	if !second.running() || second.out.String() != "" {
		t.Fatalf("logs --follow of a task not launched yet: %v\n%q %q", second.err, second.out.String(), second.errOut.String())
	}

	// Task 0 ends: its follower prints the rest and returns.
	open(0)
	select {
	case <-first.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("logs --follow did not return when task 0 ended; output %q", first.out.String())
	}
	if first.err != nil || first.out.String() != "first 0\nsecond 0\n" {
		t.Fatalf("logs --follow task 0: %v %q", first.err, first.out.String())
	}

	// Task 1 is launched now: the waiting follower streams it.
	sdktest.Eventually(t, 20*time.Second, func() bool { return second.out.String() == "first 1\n" || !second.running() },
		"task 1's first line while it runs")
	if !second.running() {
		t.Fatalf("logs --follow of task 1 returned early: %v\n%q", second.err, second.out.String())
	}
	if !strings.Contains(second.errOut.String(), "waiting for task 1 of follow") {
		t.Errorf("no note that it waited: %q", second.errOut.String())
	}
	open(1)
	select {
	case <-second.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("logs --follow did not return when task 1 ended; output %q", second.out.String())
	}
	if second.err != nil || second.out.String() != "first 1\nsecond 1\n" {
		t.Fatalf("logs --follow task 1: %v %q", second.err, second.out.String())
	}

	// A task the ended run never launched is refused, not waited for.
	if _, _, err := runCLI(t, s, "logs", "follow", "--task", "5", "--follow"); err == nil || !strings.Contains(err.Error(), "no such attempt of task 5") {
		t.Fatalf("logs --follow of task 5 of 2: %v", err)
	}
}
