package batch

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agora-cluster/agora/framework/batch/record"
	"github.com/agora-cluster/agora/sdk/sdktest"
)

// decodeJSON unmarshals a command's -o json output, failing the test
// (with the output) if it is not what v expects.
func decodeJSON(t *testing.T, what, out string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: output is not JSON of %T: %v\n%s", what, v, err, out)
	}
	if dec.More() {
		t.Fatalf("%s: more than one JSON value:\n%s", what, out)
	}
}

// cliJSON runs a CLI command that must succeed (args include -o json)
// and decodes its output into v.
func cliJSON(t *testing.T, s *Server, v any, args ...string) {
	t.Helper()
	out, errOut, err := runCLI(t, s, args...)
	if err != nil {
		t.Fatalf("%s: %v\n%s\n%s", strings.Join(args, " "), err, out, errOut)
	}
	decodeJSON(t, strings.Join(args, " "), out, v)
}

// TestCLIRunAndKill triggers runs with `run` (with and without --wait,
// succeeding and failing), kills one with `kill`, and reads the results
// through status, history and rm with -o json.
func TestCLIRunAndKill(t *testing.T) {
	c, _ := simCluster(t, 1, "cpus:4;mem:4096")
	s := startFramework(t, c, t.TempDir())
	file := writeFile(t, "jobs.yaml", `
jobs:
  - {name: ok, command: x, instances: 2, simulate: {duration: 20ms}}
  - {name: bad, command: x, simulate: {exit_code: 2}}
  - {name: hang, command: x, simulate: {hang: true}, kill_grace: 100ms}
`)
	if out, _, err := runCLI(t, s, "submit", file, "--no-run"); err != nil {
		t.Fatalf("submit: %v\n%s", err, out)
	}

	// run: starts a run and says which.
	out, _, err := runCLI(t, s, "run", "ok")
	if err != nil || out != "run 1 of ok started\n" {
		t.Fatalf("run: %v %q", err, out)
	}
	var ref record.RunRef
	cliJSON(t, s, &ref, "run", "ok", "-o", "json")
	if ref.ID != 2 || ref.State.Terminal() {
		t.Fatalf("run -o json: %+v", ref)
	}

	// run --wait: the result of a succeeding run, in JSON.
	out, errOut, err := runCLI(t, s, "run", "ok", "--wait", "-o", "json")
	if err != nil {
		t.Fatalf("run --wait: %v\n%s\n%s", err, out, errOut)
	}
	var wr waitResult
	decodeJSON(t, "run --wait -o json", out, &wr)
	if !wr.Succeeded || len(wr.Runs) != 1 || wr.Runs[0].Run.ID != 3 || wr.Runs[0].Run.Job != "ok" ||
		wr.Runs[0].Run.Trigger != record.TriggerManual || wr.Runs[0].Run.State != record.RunSucceeded || wr.Runs[0].Progress.Succeeded != 2 {
		t.Fatalf("run --wait result: %+v", wr)
	}

	// run --wait of a failing job: ErrRunFailed (a non-zero exit), in
	// text and in JSON.
	out, _, err = runCLI(t, s, "run", "bad", "--wait")
	if !errors.Is(err, ErrRunFailed) || !strings.Contains(out, "(bad): FAILED") {
		t.Fatalf("run --wait of a failing job: %v\n%s", err, out)
	}
	out, _, err = runCLI(t, s, "run", "bad", "--wait", "-o", "json")
	if !errors.Is(err, ErrRunFailed) {
		t.Fatalf("run --wait -o json of a failing job: %v\n%s", err, out)
	}
	wr = waitResult{}
	decodeJSON(t, "run --wait -o json of a failing job", out, &wr)
	if wr.Succeeded || len(wr.Runs) != 1 || wr.Runs[0].Run.State != record.RunFailed || wr.Runs[0].Progress.Failed != 1 {
		t.Fatalf("failing run --wait result: %+v", wr)
	}

	// kill: the run of a task that never ends is killed.
	cliJSON(t, s, &ref, "run", "hang", "-o", "json")
	hang := ref.ID
	var rs record.RunStatus
	statusRun := func() record.RunStatus {
		t.Helper()
		var rs record.RunStatus
		cliJSON(t, s, &rs, "status", "--run", "6", "-o", "json")
		return rs
	}
	if hang != 6 {
		t.Fatalf("hang's run is %d, want 6", hang)
	}
	sdktest.Eventually(t, 20*time.Second, func() bool { rs = statusRun(); return rs.Progress.Running == 1 }, "hang's task running")
	if rs.Run.ID != hang || rs.Run.Job != "hang" || rs.Run.State != record.RunRunning || rs.Progress.Instances != 1 || len(rs.Attempts) != 1 {
		t.Fatalf("status --run -o json of a running run: %+v", rs)
	}
	var killed map[string][]uint64
	cliJSON(t, s, &killed, "kill", "hang", "-o", "json")
	if len(killed) != 1 || len(killed["killed"]) != 1 || killed["killed"][0] != hang {
		t.Fatalf("kill -o json: %v", killed)
	}
	sdktest.Eventually(t, 20*time.Second, func() bool { rs = statusRun(); return rs.Run.State.Terminal() }, "the killed run ends")
	if rs.Run.State != record.RunKilled || rs.Progress.Succeeded != 0 || rs.Progress.Running != 0 {
		t.Fatalf("killed run: %+v", rs)
	}
	if out, _, err = runCLI(t, s, "kill", "hang"); err != nil || out != "no active runs\n" {
		t.Fatalf("kill with nothing active: %v %q", err, out)
	}

	// status JOB and history with -o json.
	var js record.JobStatus
	cliJSON(t, s, &js, "status", "ok", "-o", "json")
	if js.Job.Spec.Name != "ok" || js.Job.Spec.Instances != 2 || js.Job.LastRun == nil || js.Job.LastRun.ID != 3 ||
		js.Job.LastRun.State != record.RunSucceeded || len(js.Active) != 0 {
		t.Fatalf("status JOB -o json: %+v", js)
	}
	var runs []record.RunStatus
	cliJSON(t, s, &runs, "history", "ok", "-o", "json")
	if len(runs) != 3 {
		t.Fatalf("history -o json: %d runs, want 3: %+v", len(runs), runs)
	}
	for i, r := range runs {
		if want := uint64(3 - i); r.Run.ID != want || r.Run.Job != "ok" || r.Run.Trigger != record.TriggerManual ||
			r.Run.State != record.RunSucceeded || r.Progress.Succeeded != 2 || r.Progress.Instances != 2 {
			t.Fatalf("history -o json, run %d (want run %d): %+v", i, want, r)
		}
	}

	// rm with -o json; the job is gone.
	var removed map[string]string
	cliJSON(t, s, &removed, "rm", "hang", "-o", "json")
	if len(removed) != 1 || removed["removed"] != "hang" {
		t.Fatalf("rm -o json: %v", removed)
	}
	if _, _, err := runCLI(t, s, "status", "hang"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("status of a removed job: %v", err)
	}
}
