package operator

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/agora-cluster/agora/master"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	app := &cli.App{Name: "agora", Writer: &out, ErrWriter: &out, Commands: []*cli.Command{Command()}}
	err := app.Run(append([]string{"agora", "cluster"}, args...))
	return out.String(), err
}

func TestClusterCLI(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(3), sdktest.Agents(2, "cpus:2;mem:512"), sdktest.Simulated())
	var standby string
	for _, m := range c.Masters() {
		if !m.IsLeader() {
			standby = m.HTTPAddr()
		}
	}
	// Any member works: a dead address first, then a standby.
	masters := "127.0.0.1:1," + standby

	out, err := runCLI(t, "--masters", masters, "status")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Leader:     "+c.Leader().Name()) || !strings.Contains(out, "Agents:     2 (2 active)") {
		t.Fatalf("status:\n%s", out)
	}
	out, err = runCLI(t, "--masters", masters, "-o", "json", "agents")
	if err != nil {
		t.Fatal(err)
	}
	var agents []master.AgentView
	if err := json.Unmarshal([]byte(out), &agents); err != nil || len(agents) != 2 {
		t.Fatalf("agents json: %v\n%s", err, out)
	}
	if out, err = runCLI(t, "--masters", masters, "role", "set", "--weight", "3", "--quota", "cpus:2", "batch"); err != nil || !strings.Contains(out, "weight 3, quota cpus:2") {
		t.Fatalf("role set: %v\n%s", err, out)
	}
	// Flags after the role, exactly as the issue writes it.
	if out, err = runCLI(t, "--masters", masters, "role", "set", "web", "--weight", "2", "--quota", "cpus:10;mem:4096"); err != nil ||
		!strings.Contains(out, "role web: weight 2, quota cpus:10") || !strings.Contains(out, "mem:4096") {
		t.Fatalf("role set ROLE --weight --quota: %v\n%s", err, out)
	}
	// Mixed: one flag before the role, one after.
	if out, err = runCLI(t, "--masters", masters, "role", "set", "--weight", "4", "mixed", "--quota", "cpus:1"); err != nil ||
		!strings.Contains(out, "role mixed: weight 4, quota cpus:1") {
		t.Fatalf("role set --weight ROLE --quota: %v\n%s", err, out)
	}
	if r := c.Leader().Registry().Role("web"); r.Weight != 2 || r.Quota.CPUs != 10 || r.Quota.MemMB != 4096 {
		t.Fatalf("registry role web: %+v", r)
	}
	if out, _ = runCLI(t, "--masters", masters, "role", "list"); !strings.Contains(out, "batch") {
		t.Fatalf("role list:\n%s", out)
	}
	if _, err = runCLI(t, "--masters", masters, "role", "set", "--quota", "gpus:1", "x"); err == nil || !strings.Contains(err.Error(), "unknown resource") {
		t.Fatalf("bad quota: %v", err)
	}
	if _, err = runCLI(t, "--masters", masters, "drain", "nope"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("drain unknown agent: %v", err)
	}
	if out, err = runCLI(t, "--masters", masters, "drain", "--grace", "1s", string(agents[0].ID)); err != nil || !strings.Contains(out, "draining") {
		t.Fatalf("drain: %v\n%s", err, out)
	}
	if out, err = runCLI(t, "--masters", masters, "members"); err != nil || strings.Count(out, "127.0.0.1") < 3 {
		t.Fatalf("members: %v\n%s", err, out)
	}
	if _, err = runCLI(t, "--masters", masters, "-o", "yaml", "agents"); err == nil {
		t.Fatal("unknown output format accepted")
	}
}

// TestClusterCLIListsAndReactivate: frameworks and tasks are listed (as
// tables and JSON, tasks filtered by state), a drained agent is
// reactivated, and the member list comes from AGORA_MASTERS when
// --masters is not given.
func TestClusterCLIListsAndReactivate(t *testing.T) {
	c := sdktest.Start(t, sdktest.Agents(1, "cpus:2;mem:512"), sdktest.Simulated())
	t.Setenv("AGORA_MASTERS", "127.0.0.1:1,"+c.Leader().HTTPAddr())
	d, _, o := c.RunTask(t, wire.FrameworkInfo{Name: "cli-fw"},
		wire.TaskInfo{TaskID: "cli-task", Resources: wire.Resources{CPUs: 0.5, MemMB: 32}, Sim: &wire.SimBehavior{Hang: true}})

	out, err := runCLI(t, "frameworks")
	if err != nil || !strings.Contains(out, "cli-fw") || !strings.Contains(out, string(d.FrameworkID())) {
		t.Fatalf("frameworks: %v\n%s", err, out)
	}
	// The state view is cached for up to its lifetime: poll for the task.
	var page master.TaskPage
	sdktest.Eventually(t, 5*time.Second, func() bool {
		out, err = runCLI(t, "-o", "json", "tasks", "--state", "TASK_RUNNING")
		return err == nil && json.Unmarshal([]byte(out), &page) == nil && page.Total == 1
	}, "tasks --state TASK_RUNNING to list the task")
	if page.Tasks[0].ID != "cli-task" || page.Tasks[0].FrameworkID != d.FrameworkID() {
		t.Fatalf("tasks json: %+v", page)
	}
	if out, err = runCLI(t, "-o", "json", "tasks", "--state", "TASK_FINISHED"); err != nil || json.Unmarshal([]byte(out), &page) != nil || page.Total != 0 {
		t.Fatalf("tasks --state TASK_FINISHED: %v\n%s", err, out)
	}
	if _, err = runCLI(t, "tasks", "--state", "RUNNING"); err == nil {
		t.Fatal("a bad --state was accepted")
	}

	agent := string(o.AgentID)
	if out, err = runCLI(t, "drain", "--grace", "1m", agent); err != nil || !strings.Contains(out, "draining") {
		t.Fatalf("drain: %v\n%s", err, out)
	}
	if rec, _ := c.Leader().Registry().Agent(o.AgentID); rec.State != "DRAINING" {
		t.Fatalf("after drain the agent is %s", rec.State)
	}
	if out, err = runCLI(t, "reactivate", agent); err != nil {
		t.Fatalf("reactivate: %v\n%s", err, out)
	}
	sdktest.Eventually(t, 5*time.Second, func() bool {
		rec, _ := c.Leader().Registry().Agent(o.AgentID)
		return rec.State == "ACTIVE"
	}, "the agent to be active again")
	if _, err = runCLI(t, "reactivate", "nope"); err == nil {
		t.Fatal("reactivating an unknown agent succeeded")
	}
}
