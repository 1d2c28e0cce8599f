package agent_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agora-cluster/agora/agent"
	"github.com/agora-cluster/agora/agent/launcher"
	"github.com/agora-cluster/agora/master"
	"github.com/agora-cluster/agora/master/registry"
	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

func sleepTask(id string, secs string) wire.TaskInfo {
	return wire.TaskInfo{TaskID: wire.TaskID(id), Resources: wire.Resources{CPUs: 0.1, MemMB: 32},
		Command: wire.CommandInfo{Value: "sleep " + secs, Shell: true}}
}

// TestAgentRestartRecoversTasks: the agent stops (tasks keep running),
// restarts with the same work dir, keeps its ID, registers again and
// re-attaches to the task: the task's process lives on, and its FINISHED,
// once the test lets it end, comes from the restarted agent's watcher.
func TestAgentRestartRecoversTasks(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:1;mem:256"))
	d, rec, o := c.Offered(t, wire.FrameworkInfo{Name: "recover"}, nil)
	gate := t.TempDir()
	if _, err := d.Launch(sdktest.Ctx(t, 5*time.Second), o, gatedTask("s", gate)); err != nil {
		t.Fatal(err)
	}
	rec.WaitState(t, 5*time.Second, "s", wire.TaskRunning)
	pid := gatedPid(t, gate)
	id := c.Agents()[0].ID()
	c.StopAgent(0, false)
	if err := c.RestartAgent(0); err != nil {
		t.Fatal(err)
	}
	restarted := c.Agents()[0]
	if got := restarted.ID(); got != id {
		t.Fatalf("restarted agent has ID %s, was %s", got, id)
	}
	sdktest.Eventually(t, 10*time.Second, func() bool { ok, _ := restarted.Registered(); return ok },
		"the restarted agent registered")
	if !processAlive(pid) {
		t.Fatalf("task process %d did not survive the agent's restart", pid)
	}
	checkNoTerminal(t, rec, "s")
	released := release(t, gate)
	fin := rec.WaitState(t, 10*time.Second, "s", wire.TaskFinished)
	checkWatchedFinish(t, fin, id, released)
	// No duplicate terminal update reaches the scheduler's view twice with
	// different UUIDs: the restart resent, it did not re-create.
	uuids := map[string]bool{}
	for _, u := range rec.Updates() {
		if u.TaskID == "s" && u.State == wire.TaskFinished {
			uuids[u.UUID] = true
		}
	}
	if len(uuids) != 1 {
		t.Fatalf("FINISHED reported with %d different UUIDs", len(uuids))
	}
}

// TestAgentLossAndReturn: a silent agent is marked UNREACHABLE (in raft),
// its task reported TASK_UNREACHABLE; when it comes back the task's real
// state is sent.
func TestAgentLossAndReturn(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:1;mem:256"), sdktest.Simulated())
	_, rec, _ := c.RunTask(t, wire.FrameworkInfo{Name: "loss"},
		wire.TaskInfo{TaskID: "h", Resources: wire.Resources{CPUs: 0.1, MemMB: 32}, Sim: &wire.SimBehavior{Hang: true}})
	id := c.Agents()[0].ID()
	c.StopAgent(0, false)
	rec.WaitState(t, 10*time.Second, "h", wire.TaskUnreachable)
	sdktest.Eventually(t, 5*time.Second, func() bool {
		a, _ := c.Leader().Registry().Agent(id)
		return a.State == registry.AgentUnreachable
	}, "agent recorded unreachable in raft")
	restarted := time.Now()
	if err := c.RestartAgent(0); err != nil {
		t.Fatal(err)
	}
	rec.WaitUpdate(t, 10*time.Second, func(s wire.TaskStatus) bool {
		return s.TaskID == "h" && s.State == wire.TaskRunning && s.Timestamp.After(restarted)
	})
	sdktest.Eventually(t, 5*time.Second, func() bool {
		a, _ := c.Leader().Registry().Agent(id)
		return a.State == registry.AgentActive
	}, "agent active again")
}

// TestDrain: a drained agent gets no offers, its tasks are killed after
// the grace with reason AGENT_DRAINING, and it ends DRAINED; reactivate
// brings offers back.
func TestDrain(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:1;mem:256"), sdktest.Simulated())
	d, rec, o := c.Offered(t, wire.FrameworkInfo{Name: "drain"}, nil)
	task := wire.TaskInfo{TaskID: "h", Resources: wire.Resources{CPUs: 0.1, MemMB: 32}, Sim: &wire.SimBehavior{Hang: true}}
	if _, err := d.Accept(sdktest.Ctx(t, 5*time.Second), []wire.OfferID{o.ID}, []wire.Operation{{Type: wire.OpLaunch, Tasks: []wire.TaskInfo{withAgent(task, o.AgentID)}}}, refuse(0)); err != nil {
		t.Fatal(err)
	}
	rec.WaitState(t, 5*time.Second, "h", wire.TaskRunning)
	rec.TakeOffer(t, 5*time.Second, nil) // the rest of the agent, offered again
	base := "http://" + c.Leader().HTTPAddr()
	resp, err := http.Post(base+"/api/v1/agents/"+string(o.AgentID)+"/drain", "application/json", strings.NewReader(`{"grace":"300ms"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("drain: %v %v", resp, err)
	}
	resp.Body.Close()
	killed := rec.WaitState(t, 10*time.Second, "h", wire.TaskKilled)
	if killed.Reason != wire.ReasonAgentDraining {
		t.Fatalf("killed with reason %s", killed.Reason)
	}
	sdktest.Eventually(t, 10*time.Second, func() bool {
		a, _ := c.Leader().Registry().Agent(o.AgentID)
		return a.State == registry.AgentDrained
	}, "agent drained")
	if n := len(rec.Outstanding()); n != 0 {
		t.Fatalf("%d offers outstanding from a drained agent", n)
	}
	before := rec.OffersReceived()
	resp, err = http.Post(base+"/api/v1/agents/"+string(o.AgentID)+"/reactivate", "application/json", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("reactivate: %v %v", resp, err)
	}
	resp.Body.Close()
	sdktest.Eventually(t, 5*time.Second, func() bool { return rec.OffersReceived() > before }, "offers after reactivation")
}

// TestDrainSurvivesAgentLoss: an agent that goes silent while draining
// comes back draining (it was marked UNREACHABLE in between), so its task
// is still killed with AGENT_DRAINING and the agent ends DRAINED, rather
// than returning ACTIVE with the drain forgotten.
func TestDrainSurvivesAgentLoss(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:1;mem:256"), sdktest.Simulated())
	_, rec, _ := c.RunTask(t, wire.FrameworkInfo{Name: "drain-loss"},
		wire.TaskInfo{TaskID: "h", Resources: wire.Resources{CPUs: 0.1, MemMB: 32}, Sim: &wire.SimBehavior{Hang: true}})
	id := c.Agents()[0].ID()
	base := "http://" + c.Leader().HTTPAddr()
	resp, err := http.Post(base+"/api/v1/agents/"+string(id)+"/drain", "application/json", strings.NewReader(`{"grace":"2s"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("drain: %v %v", resp, err)
	}
	resp.Body.Close()
	c.StopAgent(0, false)
	sdktest.Eventually(t, 10*time.Second, func() bool {
		a, _ := c.Leader().Registry().Agent(id)
		return a.State == registry.AgentUnreachable
	}, "agent recorded unreachable in raft")
	checkNoTerminal(t, rec, "h")
	if err := c.RestartAgent(0); err != nil {
		t.Fatal(err)
	}
	killed := rec.WaitState(t, 15*time.Second, "h", wire.TaskKilled)
	if killed.Reason != wire.ReasonAgentDraining {
		t.Fatalf("killed with reason %s", killed.Reason)
	}
	sdktest.Eventually(t, 10*time.Second, func() bool {
		a, _ := c.Leader().Registry().Agent(id)
		return a.State == registry.AgentDrained
	}, "agent drained after coming back")
}

// TestAgentGone: an agent unreachable for longer than the gone timeout is
// recorded GONE in raft and its tasks are reported TASK_GONE (the registry's
// own tests show a GONE ID may not register again).
func TestAgentGone(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:1;mem:256"), sdktest.Simulated(),
		sdktest.WithMasterConfig(func(mc *master.Config) { mc.AgentGoneTimeout = time.Second }))
	_, rec, _ := c.RunTask(t, wire.FrameworkInfo{Name: "gone"},
		wire.TaskInfo{TaskID: "h", Resources: wire.Resources{CPUs: 0.1, MemMB: 32}, Sim: &wire.SimBehavior{Hang: true}})
	id := c.Agents()[0].ID()
	c.StopAgent(0, false)
	rec.WaitState(t, 10*time.Second, "h", wire.TaskUnreachable)
	gone := rec.WaitState(t, 10*time.Second, "h", wire.TaskGone)
	if gone.Reason != wire.ReasonAgentRemoved || gone.AgentID != id {
		t.Fatalf("TASK_GONE = %+v", gone)
	}
	if a, _ := c.Leader().Registry().Agent(id); a.State != registry.AgentGone {
		t.Fatalf("agent state %s after TASK_GONE, want GONE", a.State)
	}
}

func withAgent(t wire.TaskInfo, a wire.AgentID) wire.TaskInfo { t.AgentID = a; return t }

func refuse(s float64) wire.Filters { return wire.Filters{RefuseSeconds: &s} }

// TestHealthCheckKillsUnhealthyTask: health rides on RUNNING updates, and
// a task that fails its checks is killed with REASON_TASK_UNHEALTHY.
func TestHealthCheckKillsUnhealthyTask(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:1;mem:256"))
	d, rec, o := c.Offered(t, wire.FrameworkInfo{Name: "health"}, nil)
	task := sleepTask("h", "x")
	task.Command.Value = "touch ok; sleep 1; rm ok; sleep 30"
	task.HealthCheck = &wire.HealthCheck{Type: wire.HealthCommand, Command: "test -f ok",
		Interval: wire.Duration(100 * time.Millisecond), ConsecutiveFailures: 2}
	if _, err := d.Launch(sdktest.Ctx(t, 5*time.Second), o, task); err != nil {
		t.Fatal(err)
	}
	rec.WaitUpdate(t, 5*time.Second, func(s wire.TaskStatus) bool {
		return s.TaskID == "h" && s.State == wire.TaskRunning && s.Healthy != nil && *s.Healthy
	})
	rec.WaitUpdate(t, 5*time.Second, func(s wire.TaskStatus) bool {
		return s.TaskID == "h" && s.State == wire.TaskRunning && s.Healthy != nil && !*s.Healthy
	})
	killed := rec.WaitState(t, 10*time.Second, "h", wire.TaskKilled)
	if killed.Reason != wire.ReasonTaskUnhealthy {
		t.Fatalf("killed with reason %s", killed.Reason)
	}
}

// TestUpdatesSurviveRestartInOrderOnce: acknowledgements are dropped, the
// agent is restarted, and once acknowledgements flow the framework has
// seen each update of the task — in order, and once after dedup by UUID.
func TestUpdatesSurviveRestartInOrderOnce(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:1;mem:256"), sdktest.Simulated())
	rec := sdktest.NewRecorder()
	var acking atomic.Bool
	rec.OnUpdate = func(ctx context.Context, d *sdk.Driver, s wire.TaskStatus) {
		if acking.Load() {
			_ = d.Acknowledge(ctx, s)
		}
	}
	d := c.RunDriver(t, wire.FrameworkInfo{Name: "acks"}, rec, func(cfg *sdk.Config) { cfg.ManualAck = true })
	rec.WaitSubscribed(t, 5*time.Second, 1)
	o := rec.TakeOffer(t, 5*time.Second, nil)
	task := wire.TaskInfo{TaskID: "u", Resources: wire.Resources{CPUs: 0.1, MemMB: 8}, Sim: &wire.SimBehavior{StartDelay: wire.Duration(100 * time.Millisecond), Duration: wire.Duration(200 * time.Millisecond)}}
	if _, err := d.Launch(sdktest.Ctx(t, 5*time.Second), o, task); err != nil {
		t.Fatal(err)
	}
	// Unacknowledged, the first update is resent, and nothing after it.
	count := func(state wire.TaskState) int {
		n := 0
		for _, u := range rec.Updates() {
			if u.TaskID == "u" && u.State == state && u.Reason != wire.ReasonReconciliation {
				n++
			}
		}
		return n
	}
	sdktest.Eventually(t, 10*time.Second, func() bool { return count(wire.TaskStarting) >= 2 }, "STARTING resent")
	if count(wire.TaskRunning) != 0 {
		t.Fatal("RUNNING sent before STARTING was acknowledged")
	}
	c.StopAgent(0, false)
	if err := c.RestartAgent(0); err != nil {
		t.Fatal(err)
	}
	acking.Store(true)
	rec.WaitState(t, 10*time.Second, "u", wire.TaskFinished)
	var order []string
	seen := map[string]bool{}
	for _, u := range rec.Updates() {
		if u.TaskID != "u" || u.UUID == "" || seen[u.UUID] {
			continue
		}
		seen[u.UUID] = true
		order = append(order, string(u.State))
	}
	if got := strings.Join(order, ","); got != "TASK_STARTING,TASK_RUNNING,TASK_FINISHED" {
		t.Fatalf("distinct updates in arrival order: %s", got)
	}
}

// TestTaskUsageInState: the agent measures its tasks' processes and the
// master shows the usage in the state API.
func TestTaskUsageInState(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:1;mem:256"))
	d, _, o := c.Offered(t, wire.FrameworkInfo{Name: "usage"}, nil)
	task := sleepTask("busy", "x")
	task.Command.Value = "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; sleep 30"
	if _, err := d.Launch(sdktest.Ctx(t, 5*time.Second), o, task); err != nil {
		t.Fatal(err)
	}
	sdktest.Eventually(t, 15*time.Second, func() bool {
		for _, tk := range c.Leader().StateView().Tasks {
			if tk.ID == "busy" && tk.Usage != nil && tk.Usage.RSSBytes > 0 && tk.Usage.Processes >= 2 && tk.Usage.CPUSeconds > 0 {
				return true
			}
		}
		return false
	}, "usage of the busy task in the state API")
}

// TestAgentMetrics: the agent serves Prometheus metrics of its tasks and
// status updates.
func TestAgentMetrics(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:1;mem:256"), sdktest.Simulated(),
		sdktest.WithAgentConfig(func(i int, ac *agent.Config) { ac.MetricsAddr = "127.0.0.1:0" }))
	d, rec, o := c.Offered(t, wire.FrameworkInfo{Name: "metrics"}, nil)
	task := wire.TaskInfo{TaskID: "h", Resources: wire.Resources{CPUs: 0.1, MemMB: 8}, Sim: &wire.SimBehavior{Hang: true}}
	if _, err := d.Launch(sdktest.Ctx(t, 5*time.Second), o, task); err != nil {
		t.Fatal(err)
	}
	rec.WaitState(t, 5*time.Second, "h", wire.TaskRunning)
	url := "http://" + c.Agents()[0].MetricsAddr() + "/metrics"
	sdktest.Eventually(t, 5*time.Second, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body := string(b)
		return strings.Contains(body, `agora_agent_tasks{state="TASK_RUNNING"} 1`) &&
			strings.Contains(body, "agora_agent_registered 1") && strings.Contains(body, "agora_agent_nats_connected 1") &&
			strings.Contains(body, "agora_agent_status_updates_pending 0") && !strings.Contains(body, "agora_agent_status_updates_sent_total 0")
	}, "agent metrics")
}

// TestLaunchStartingOnlyWhenSlow: a task that starts at once is reported
// RUNNING without a STARTING first; one whose launch takes a while is
// reported STARTING, then RUNNING.
func TestLaunchStartingOnlyWhenSlow(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:1;mem:256"), sdktest.Simulated())
	d, rec, o := c.Offered(t, wire.FrameworkInfo{Name: "starting"}, nil)
	fast := wire.TaskInfo{TaskID: "fast", Resources: wire.Resources{CPUs: 0.1, MemMB: 8}, Sim: &wire.SimBehavior{Hang: true}}
	slow := wire.TaskInfo{TaskID: "slow", Resources: wire.Resources{CPUs: 0.1, MemMB: 8}, Sim: &wire.SimBehavior{StartDelay: wire.Duration(300 * time.Millisecond), Hang: true}}
	if _, err := d.Launch(sdktest.Ctx(t, 5*time.Second), o, fast, slow); err != nil {
		t.Fatal(err)
	}
	rec.WaitState(t, 10*time.Second, "slow", wire.TaskRunning)
	states := map[wire.TaskID][]string{}
	for _, u := range rec.Updates() {
		if u.Reason != wire.ReasonReconciliation {
			states[u.TaskID] = append(states[u.TaskID], string(u.State))
		}
	}
	if got := strings.Join(states["fast"], ","); got != "TASK_RUNNING" {
		t.Fatalf("fast task updates %s, want TASK_RUNNING only", got)
	}
	if got := strings.Join(states["slow"], ","); got != "TASK_STARTING,TASK_RUNNING" {
		t.Fatalf("slow task updates %s, want TASK_STARTING,TASK_RUNNING", got)
	}
}

// TestSandboxGC: the sandbox of an ended task is removed once it is older
// than the agent's SandboxGCDelay.
func TestSandboxGC(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:1;mem:256"),
		sdktest.WithAgentConfig(func(i int, ac *agent.Config) { ac.SandboxGCDelay = time.Second }))
	d, rec, o := c.Offered(t, wire.FrameworkInfo{Name: "gc"}, nil)
	where := filepath.Join(t.TempDir(), "sandbox")
	task := sleepTask("gc", "x")
	task.Command.Value = `echo "$AGORA_SANDBOX" > '` + where + `'`
	if _, err := d.Launch(sdktest.Ctx(t, 5*time.Second), o, task); err != nil {
		t.Fatal(err)
	}
	rec.WaitState(t, 5*time.Second, "gc", wire.TaskFinished)
	b, err := os.ReadFile(where)
	if err != nil {
		t.Fatal(err)
	}
	sandbox := strings.TrimSpace(string(b))
	if _, err := os.Stat(sandbox); err != nil {
		t.Fatalf("sandbox %s of the ended task: %v", sandbox, err)
	}
	sdktest.Eventually(t, 10*time.Second, func() bool {
		_, err := os.Stat(sandbox)
		return os.IsNotExist(err)
	}, "sandbox %s removed after the GC delay", sandbox)
}

// TestFrameworkMessageReachesTask: a framework's MESSAGE to an agent is
// appended to its running task's messages file (AGORA_MESSAGES), one line
// each, in order, text as sent and other data in base64.
func TestFrameworkMessageReachesTask(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:1;mem:256"))
	d, rec, o := c.Offered(t, wire.FrameworkInfo{Name: "messages"}, nil)
	got := filepath.Join(t.TempDir(), "got")
	task := sleepTask("m", "x")
	task.Command.Value = `test -f "$AGORA_MESSAGES" || exit 3
while [ "$(wc -l < "$AGORA_MESSAGES")" -lt 2 ]; do sleep 0.05; done
cp "$AGORA_MESSAGES" '` + got + `'`
	if _, err := d.Launch(sdktest.Ctx(t, 5*time.Second), o, task); err != nil {
		t.Fatal(err)
	}
	rec.WaitState(t, 5*time.Second, "m", wire.TaskRunning)
	msgs := [][]byte{[]byte("hello, task"), {0xff, 0, '\n'}}
	for _, m := range msgs {
		if err := d.Message(sdktest.Ctx(t, 5*time.Second), o.AgentID, m); err != nil {
			t.Fatal(err)
		}
	}
	fin := rec.WaitState(t, 10*time.Second, "m", wire.TaskFinished)
	if fin.ExitCode == nil || *fin.ExitCode != 0 {
		t.Fatalf("task ended %+v", fin)
	}
	b, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	want := []string{"hello, task", "base64:/wAK"}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Fatalf("messages file %q, want lines %q", b, want)
	}
	for i, l := range lines {
		if data, err := launcher.DecodeMessageLine(l); err != nil || !bytes.Equal(data, msgs[i]) {
			t.Fatalf("line %d decodes to %q (%v), want %q", i, data, err, msgs[i])
		}
	}
}
