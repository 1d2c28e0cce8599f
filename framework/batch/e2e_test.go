package batch

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agora-cluster/agora/framework/batch/record"
	"github.com/agora-cluster/agora/framework/batch/spec"
	"github.com/agora-cluster/agora/sdk/sdktest"
)

// TestCLIEndToEnd runs real processes through the CLI: submit --wait,
// status, history, logs, a failing job, a timeout kill, and rm.
func TestCLIEndToEnd(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(2, "cpus:2;mem:2048;ports:[31000-31100]"))
	s := startFramework(t, c, t.TempDir())

	hello := writeFile(t, "hello.yaml", `
name: hello
command: 'echo "hello from $BATCH_INSTANCE attempt $BATCH_ATTEMPT port $PORT0"; echo oops >&2'
instances: 3
parallelism: 2
resources: {cpus: 0.1, mem: 16, ports: 1}
`)
	out, errOut, err := runCLI(t, s, "submit", hello, "--wait")
	if err != nil {
		t.Fatalf("submit --wait: %v\n%s\n%s", err, out, errOut)
	}
	if !strings.Contains(out, "job hello created (version 1); run 1 started") || !strings.Contains(out, "run 1 (hello): SUCCEEDED") {
		t.Fatalf("submit output:\n%s", out)
	}
	// The bar's own line (not the end-of-run line, which says 3/3 too)
	// shows the final counts.
	if !regexp.MustCompile(`(?m)^run 1 \(hello\) \[#{30}\] 3/3  ok 3  running 0  failed 0  retried 0  [0-9.]+m?s$`).MatchString(errOut) {
		t.Errorf("no progress bar with the final counts:\n%s", errOut)
	}

	out, _, err = runCLI(t, s, "logs", "hello", "--task", "2")
	if err != nil || !strings.HasPrefix(out, "hello from 2 attempt 1 port 310") {
		t.Fatalf("logs: %q %v", out, err)
	}
	out, _, err = runCLI(t, s, "logs", "hello", "--task", "1", "--stderr", "--follow")
	if err != nil || out != "oops\n" {
		t.Fatalf("logs --stderr: %q %v", out, err)
	}
	var chunk logLine
	cliJSON(t, s, &chunk, "logs", "hello", "--task", "1", "--stderr", "-o", "json")
	if data, _ := base64.StdEncoding.DecodeString(chunk.Data); chunk.Run != 1 || chunk.Offset != 0 || !chunk.Done ||
		chunk.TaskID != string(record.TaskID("hello", 1, 1, 1)) || string(data) != "oops\n" {
		t.Fatalf("logs -o json: %+v (data %q)", chunk, data)
	}

	out, _, err = runCLI(t, s, "status", "--output", "json")
	var jobs []record.JobStatus
	if err != nil || json.Unmarshal([]byte(out), &jobs) != nil || len(jobs) != 1 || jobs[0].Job.LastRun.State != record.RunSucceeded {
		t.Fatalf("status json: %v\n%s", err, out)
	}
	out, _, err = runCLI(t, s, "history", "hello")
	if err != nil || !strings.Contains(out, "SUBMIT") || !strings.Contains(out, "SUCCEEDED") || !strings.Contains(out, "3/3") {
		t.Fatalf("history: %v\n%s", err, out)
	}

	// A failing job: the CLI exits with ErrRunFailed.
	failing := writeFile(t, "fail.json", `{"name": "fail", "command": "exit 3", "retries": {"limit": 1, "backoff": "100ms"}}`)
	out, _, err = runCLI(t, s, "submit", failing, "--wait", "-o", "json")
	if !errors.Is(err, ErrRunFailed) {
		t.Fatalf("failing job: err = %v\n%s", err, out)
	}
	var wr waitResult
	if json.Unmarshal([]byte(out), &wr) != nil || wr.Succeeded || len(wr.Runs) != 1 || wr.Runs[0].Progress.Attempts != 2 {
		t.Fatalf("failing job result: %s", out)
	}

	// A task that runs too long is killed.
	slow := writeFile(t, "slow.yaml", "name: slow\ncommand: sleep 60\ntimeout: {task: 1s}\nkill_grace: 1s\n")
	start := time.Now()
	out, _, err = runCLI(t, s, "submit", slow, "--wait")
	if !errors.Is(err, ErrRunFailed) || !strings.Contains(out, "timed out after 1s") {
		t.Fatalf("timeout: %v\n%s", err, out)
	}
	if time.Since(start) > 30*time.Second {
		t.Errorf("timeout took %s", time.Since(start))
	}

	// A bad file is refused with the field path, before anything is sent.
	bad := writeFile(t, "bad.yaml", "name: bad\ncommand: x\ninstances: many\n")
	if _, _, err := runCLI(t, s, "submit", bad); !errors.Is(err, spec.ErrInvalid) || !strings.Contains(err.Error(), "line 3: instances: must be an integer") {
		t.Fatalf("bad file: %v", err)
	}
	out, _, err = runCLI(t, s, "rm", "hello")
	if err != nil || !strings.Contains(out, "job hello removed") {
		t.Fatalf("rm: %v %s", err, out)
	}
	if _, _, err := runCLI(t, s, "status", "hello"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("status of removed job: %v", err)
	}
}

// TestDAGWait submits a small DAG and waits for all of it.
func TestDAGWait(t *testing.T) {
	c, _ := simCluster(t, 1, "cpus:8;mem:8192")
	s := startFramework(t, c, t.TempDir())
	dagFile := writeFile(t, "dag.yaml", `
jobs:
  - {name: extract, command: x, instances: 4, simulate: {duration: 50ms}}
  - {name: transform, command: x, depends_on: [extract], simulate: {duration: 50ms}}
  - {name: load, command: x, depends_on: [transform], simulate: {duration: 50ms}}
`)
	out, errOut, err := runCLI(t, s, "submit", dagFile, "--wait", "-o", "json")
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, out, errOut)
	}
	var wr waitResult
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &wr); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !wr.Succeeded || len(wr.Runs) != 3 {
		t.Fatalf("result: %+v", wr)
	}
	// In dependency order: each run was created after its parent ended.
	for i := 1; i < 3; i++ {
		if wr.Runs[i].Run.Created.Before(wr.Runs[i-1].Run.Finished) {
			t.Errorf("%s started before %s finished", wr.Runs[i].Run.Job, wr.Runs[i-1].Run.Job)
		}
	}
	if wr.Runs[2].Run.Job != "load" || wr.Runs[2].Run.Trigger != record.TriggerDependency {
		t.Errorf("last run: %+v", wr.Runs[2].Run)
	}
}
