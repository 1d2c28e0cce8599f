package workload

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agora-cluster/agora/scripts/lincheck"
	"github.com/agora-cluster/agora/sdk/wire"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTestFramework(mode string, target int) *framework {
	var clock int64
	return newFramework(mode, "fw", target, "/tmp/ledger", 1, func() int64 { clock++; return clock }, quietLog())
}

func TestFrameworkKeepsTargetInFlight(t *testing.T) {
	f := newTestFramework(ModeBatch, 3)
	offer := wire.Offer{ID: "o1", AgentID: "a1", Resources: wire.Resources{CPUs: 0.5, MemMB: 1000}}
	tasks := f.take(offer)
	if len(tasks) != 2 { // 0.5 cpus hold two tasks of 0.2
		t.Fatalf("want 2 tasks in the offer, got %d", len(tasks))
	}
	for _, ti := range tasks {
		if ti.AgentID != "a1" || !strings.Contains(ti.Command.Value, "$AGORA_TASK_ID") || ti.Validate() != nil {
			t.Fatalf("bad task %+v", ti)
		}
	}
	f.accepted(tasks, wire.AcceptResult{Launched: []wire.TaskID{tasks[0].TaskID}}, nil)
	open, issued, finished, _ := f.status()
	// The second task was refused without an error: it is closed and replaced.
	if open != 1 || issued != 2 || finished != 1 || len(f.pending) != 2 {
		t.Fatalf("open %d issued %d finished %d pending %d; want 1 2 1 2", open, issued, finished, len(f.pending))
	}
	f.Update(context.Background(), nil, wire.TaskStatus{TaskID: tasks[0].TaskID, State: wire.TaskRunning})
	f.Update(context.Background(), nil, wire.TaskStatus{TaskID: tasks[0].TaskID, State: wire.TaskFinished})
	if open, _, finished, _ := f.status(); open != 0 || finished != 2 || len(f.pending) != 3 {
		t.Fatalf("after FINISHED: open %d finished %d pending %d; want 0 2 3", open, finished, len(f.pending))
	}
	rec := f.record()
	if len(rec.Tasks) != 2 {
		t.Fatalf("want 2 task records, got %+v", rec.Tasks)
	}
	for _, tr := range rec.Tasks {
		if tr.ID == tasks[0].TaskID && (tr.Accept != AcceptLaunched || len(tr.Updates) != 2) {
			t.Fatalf("launched task record: %+v", tr)
		}
		if tr.ID == tasks[1].TaskID && tr.Accept != AcceptRefused {
			t.Fatalf("refused task record: %+v", tr)
		}
	}
}

func TestFrameworkUnansweredAcceptStaysOpen(t *testing.T) {
	f := newTestFramework(ModeService, 2)
	tasks := f.take(wire.Offer{ID: "o1", AgentID: "a2", Resources: wire.Resources{CPUs: 1, MemMB: 1000}})
	if len(tasks) != 2 || !strings.Contains(tasks[0].Command.Value, "exec sleep") {
		t.Fatalf("want 2 service instances, got %+v", tasks)
	}
	f.accepted(tasks[:1], wire.AcceptResult{}, errors.New("nats: timeout"))
	f.accepted(tasks[1:], wire.AcceptResult{}, wire.Errorf(wire.CodeUnknownOffer, "gone"))
	open, _, _, _ := f.status()
	if open != 1 {
		t.Fatalf("an unanswered accept must stay open, a refused one close: open %d", open)
	}
	// TASK_UNKNOWN (reconciliation) closes it.
	f.Update(context.Background(), nil, wire.TaskStatus{TaskID: tasks[0].TaskID, State: wire.TaskUnknown})
	if open, _, _, _ := f.status(); open != 0 {
		t.Fatalf("TASK_UNKNOWN must close the task: open %d", open)
	}
	f.drain()
	if len(f.pending) != 0 {
		t.Fatalf("a draining framework plans nothing: %d pending", len(f.pending))
	}
	// An update for a task it never issued is kept for the checker.
	f.Update(context.Background(), nil, wire.TaskStatus{TaskID: "stranger", State: wire.TaskRunning})
	found := false
	for _, tr := range f.record().Tasks {
		found = found || (tr.ID == "stranger" && tr.Issued == -1)
	}
	if !found {
		t.Fatal("update for an unknown task not recorded")
	}
}

func TestServiceKillsATaskTheMasterDeniedButLives(t *testing.T) {
	f := newTestFramework(ModeService, 1)
	tasks := f.take(wire.Offer{ID: "o1", AgentID: "a1", Resources: wire.Resources{CPUs: 1, MemMB: 1000}})
	f.accepted(tasks, wire.AcceptResult{Launched: []wire.TaskID{tasks[0].TaskID}}, nil)
	id := tasks[0].TaskID
	ctx := context.Background()
	f.Update(ctx, nil, wire.TaskStatus{TaskID: id, State: wire.TaskRunning})
	f.Update(ctx, nil, wire.TaskStatus{TaskID: id, State: wire.TaskUnknown, Reason: wire.ReasonReconciliation})
	if open, _, _, _ := f.status(); open != 0 || len(f.pending) != 1 {
		t.Fatalf("a denied instance is replaced: open %d pending %d", open, len(f.pending))
	}
	f.Update(ctx, nil, wire.TaskStatus{TaskID: id, State: wire.TaskRunning, Source: wire.SourceAgent})
	if open, _, _, _ := f.status(); open != 1 || !f.toKill[id] {
		t.Fatalf("an instance back from the dead is tracked and marked for killing: open %d, to kill %v", open, f.toKill)
	}
	f.Update(ctx, nil, wire.TaskStatus{TaskID: id, State: wire.TaskKilled})
	if open, _, _, _ := f.status(); open != 0 || len(f.toKill) != 0 {
		t.Fatalf("after KILLED: open %d, to kill %v", open, f.toKill)
	}
}

func TestTermBook(t *testing.T) {
	b := newTermBook()
	launch := wire.MustEncode(wire.TypeLaunch, "m1", 3, wire.Launch{FrameworkID: "f", Tasks: []wire.TaskInfo{{TaskID: "t1", AgentID: "a1", Command: wire.CommandInfo{Value: "x"}}}})
	b.observe("tap/m1", "agora.a.a1", launch, 10)
	b.observe("tap/m2", "agora.a.a1", launch, 11) // the same message via another server
	b.observe("tap/m1", "agora.leader", wire.MustEncode(wire.TypeLeader, "m1", 3, wire.LeaderInfo{Name: "m1", Term: 3}), 12)
	b.observe("tap/m1", "agora.m.fw.f", wire.MustEncode(wire.TypeRevive, "f", 0, wire.Revive{}), 13) // not from a master
	b.observe("tap/m1", "agora.x", []byte("garbage"), 14)
	var r Record
	b.fill(&r)
	if len(r.Launches) != 1 || r.Launches[0].Agent != "a1" || r.Launches[0].Tasks[0] != "t1" || r.Launches[0].Term != 3 {
		t.Fatalf("launches: %+v", r.Launches)
	}
	if len(r.Leaders) != 1 || r.Leaders[0].Name != "m1" {
		t.Fatalf("leaders: %+v", r.Leaders)
	}
	if len(r.Terms) != 3 { // LAUNCH at two observers, LEADER at one
		t.Fatalf("terms: %+v", r.Terms)
	}
}

func TestAccountingProblems(t *testing.T) {
	total := wire.Resources{CPUs: 2, MemMB: 1024}
	ok := []agentView{{ID: "a1", Resources: total, Used: wire.Resources{CPUs: 1, MemMB: 512}, Offered: wire.Resources{CPUs: 1, MemMB: 512}}}
	if p := accountingProblems(ok); len(p) != 0 {
		t.Fatalf("want no problems, got %v", p)
	}
	over := []agentView{{ID: "a1", Resources: total, Used: wire.Resources{CPUs: 1.5}, Offered: wire.Resources{CPUs: 1}}}
	if p := accountingProblems(over); len(p) != 1 || !strings.Contains(p[0], "exceeds") {
		t.Fatalf("want an over-allocation, got %v", p)
	}
	neg := []agentView{{ID: "a1", Resources: total, Used: wire.Resources{CPUs: -0.2}}}
	if p := accountingProblems(neg); len(p) == 0 {
		t.Fatal("negative used not reported")
	}
}

// TestRoleWriteOutcomes checks how registry answers become outcomes: a
// redirect is followed and the answering master named; a standby without a
// leader surely did nothing; a leader's 503 may have done something; a
// refused connection did nothing.
func TestRoleWriteOutcomes(t *testing.T) {
	var status int
	var body string
	leader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	defer leader.Close()
	standby := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, leader.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer standby.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	ms := map[string]MasterAddrs{
		"m1": {HTTP: strings.TrimPrefix(leader.URL, "http://"), NATS: "nats://x"},
		"m2": {HTTP: strings.TrimPrefix(standby.URL, "http://"), NATS: "nats://x"},
		"m3": {HTTP: closed, NATS: "nats://x"},
	}
	rc := &registryClients{cfg: Config{Roles: []string{"r"}}, m: newMasters(ms, 2*time.Second), rec: lincheck.NewRecorder()}
	ctx := context.Background()
	cases := []struct {
		master, body string
		status       int
		want         lincheck.Outcome
		server       string
	}{
		{"m2", `{"name":"r","weight":1}`, 200, lincheck.OK, "m1"},
		{"m1", `{"error":"this master (m1) is a standby and knows no leader's HTTP address yet"}`, 503, lincheck.Failed, "m1"},
		{"m1", `{"error":"registry write failed"}`, 503, lincheck.Unknown, "m1"},
		{"m1", `{"error":"bad"}`, 400, lincheck.Failed, "m1"},
		{"m3", ``, 200, lincheck.Failed, "m3"},
	}
	for i, c := range cases {
		status, body = c.status, c.body
		rc.writeRole(ctx, 0, c.master, "r")
		ops := rc.rec.Ops()
		op := ops[len(ops)-1]
		if op.Outcome != c.want || op.Server != c.server || op.Value != float64(i+1) {
			t.Errorf("case %d (%s → %d %s): got %+v", i, c.master, c.status, c.body, op)
		}
	}
	status, body = 200, `[{"name":"r","weight":4},{"name":"*","weight":1}]`
	rc.readRoles(ctx, 1, "m2")
	ops := rc.rec.Ops()
	if op := ops[len(ops)-1]; op.Outcome != lincheck.OK || op.Roles["r"] != 4 || op.Server != "m1" {
		t.Fatalf("read: %+v", op)
	}
}
