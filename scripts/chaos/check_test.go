package chaos

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/agora-cluster/agora/scripts/chaos/workload"
	"github.com/agora-cluster/agora/scripts/lincheck"
	"github.com/agora-cluster/agora/sdk/wire"
)

var total = wire.Resources{CPUs: 2, MemMB: 1024, DiskMB: 10000}

func up(at int64, s wire.TaskState) workload.UpdateSeen {
	return workload.UpdateSeen{At: at, State: s}
}

// goodInput is a run in which everything went right: one task finished,
// one never reached its agent and reconciliation said so, one was refused.
func goodInput(t *testing.T) Input {
	t.Helper()
	ledger, problems, err := ParseLedger(strings.NewReader("S run-batch b-1 100\nE run-batch b-1 100 0\n"))
	if err != nil || len(problems) != 0 {
		t.Fatal(err, problems)
	}
	return Input{
		Record: workload.Record{
			Frameworks: []workload.FrameworkRecord{{
				ID: "run-batch", Name: "run-batch", Mode: "batch",
				Tasks: []workload.TaskRecord{
					{ID: "b-1", Agent: "a1", Accept: workload.AcceptLaunched, Updates: []workload.UpdateSeen{up(1, wire.TaskStarting), up(2, wire.TaskRunning), up(3, wire.TaskFinished), up(4, wire.TaskFinished)}},
					{ID: "b-2", Agent: "a1", Accept: workload.AcceptUnknown, Updates: []workload.UpdateSeen{up(5, wire.TaskUnknown)}},
					{ID: "b-3", Agent: "a1", Accept: workload.AcceptRefused},
				},
			}},
			Terms: []workload.TermSeen{
				{Observer: "tap/m1", Term: 2, From: "m1", Type: wire.TypeOffers, Count: 3},
				{Observer: "fw/run-batch", Term: 3, From: "m2", Type: wire.TypeOffers, Count: 1},
			},
			Lin: []lincheck.Op{
				{Kind: lincheck.RoleWrite, Key: "r", Value: 1, Call: 0, Return: 10, Outcome: lincheck.OK},
				{Kind: lincheck.RoleRead, Roles: map[string]float64{"r": 1}, Call: 20, Return: 30, Outcome: lincheck.OK},
			},
			Samples: 5,
		},
		Ledger: ledger,
		Final: Final{
			Drained:    true,
			AgentTotal: total,
			Agents:     []AgentView{{ID: "a1", Resources: total, State: "ACTIVE", Offered: wire.Resources{CPUs: 1}}},
		},
	}
}

func failed(v Verdict) map[string][]string {
	out := map[string][]string{}
	for _, c := range v.Checks {
		if !c.OK {
			out[c.Name] = c.Violations
		}
	}
	return out
}

func TestCheckPassesAGoodRun(t *testing.T) {
	v := Check(goodInput(t))
	if !v.OK() {
		t.Fatalf("want every check to pass, got %v", failed(v))
	}
	if len(v.Checks) != 9 {
		t.Fatalf("want 9 checks, got %d", len(v.Checks))
	}
	s := v.Stats
	if s.Issued["batch"] != 3 || s.Launched["batch"] != 1 || s.Ran["batch"] != 1 || s.Final["batch"]["TASK_FINISHED"] != 1 || s.Final["batch"]["TASK_UNKNOWN"] != 1 {
		t.Fatalf("stats: %+v", s)
	}
	if !reflect.DeepEqual(s.Terms, []uint64{2, 3}) {
		t.Fatalf("terms: %v", s.Terms)
	}
}

func TestCheckFindsEachViolation(t *testing.T) {
	cases := []struct {
		name string
		// check must fail; also may fail as well (the same fault breaks both).
		check, also string
		mutate      func(in *Input)
	}{
		{"task without final state", "no task lost", "every terminal state delivered to its framework", func(in *Input) {
			in.Record.Frameworks[0].Tasks[0].Updates = in.Record.Frameworks[0].Tasks[0].Updates[:2]
		}},
		{"unknown task that ran", "no task lost", "every terminal state delivered to its framework", func(in *Input) {
			in.Ledger["run-batch/b-2"] = &Execution{Framework: "run-batch", Task: "b-2", Starts: 1}
		}},
		{"refused task that ran", "no task lost", "every terminal state delivered to its framework", func(in *Input) {
			in.Ledger["run-batch/b-3"] = &Execution{Framework: "run-batch", Task: "b-3", Starts: 1}
		}},
		{"not drained", "no task lost", "", func(in *Input) { in.Final.Drained = false }},
		{"leader still has a task", "no task lost", "", func(in *Input) {
			in.Final.Tasks = []TaskView{{ID: "b-9", FrameworkID: "run-batch", AgentID: "a1", State: wire.TaskRunning}}
		}},
		{"ran twice", "no task attempt run twice", "", func(in *Input) { in.Ledger["run-batch/b-1"].Starts = 2 }},
		{"finished task told LOST", "every terminal state delivered to its framework", "", func(in *Input) {
			u := in.Record.Frameworks[0].Tasks[0].Updates
			u[2].State, u[3].State = wire.TaskLost, wire.TaskLost
		}},
		{"FINISHED that never ended", "every terminal state delivered to its framework", "", func(in *Input) {
			in.Ledger["run-batch/b-1"].Ended = false
		}},
		{"update after terminal", "terminal states are final", "", func(in *Input) {
			tr := &in.Record.Frameworks[0].Tasks[0]
			tr.Updates = append(tr.Updates, up(9, wire.TaskRunning))
		}},
		{"unknown task that lives", "reconciliation never denies a live task", "", func(in *Input) {
			tr := &in.Record.Frameworks[0].Tasks[1]
			tr.Updates = append(tr.Updates, up(6, wire.TaskRunning), up(7, wire.TaskKilled))
		}},
		{"two masters in a term", "at most one master sent in each term", "", func(in *Input) {
			in.Record.Terms = append(in.Record.Terms, workload.TermSeen{Observer: "tap/m3", Term: 2, From: "m3", Type: wire.TypeLaunch, Count: 1})
		}},
		{"over-allocation during the run", "free + used == total on every agent", "", func(in *Input) {
			in.Record.AllocViolations = []string{"agent a1: used + offered exceeds total"}
		}},
		{"used does not match tasks", "free + used == total on every agent", "", func(in *Input) {
			in.Final.Agents[0].Used = wire.Resources{CPUs: 0.2, MemMB: 32}
		}},
		{"agent not active", "free + used == total on every agent", "", func(in *Input) { in.Final.Agents[0].State = "UNREACHABLE" }},
		{"total changed", "free + used == total on every agent", "", func(in *Input) { in.Final.Agents[0].Resources.CPUs = 1 }},
		{"orphan process", "no task process outlives its terminal state", "", func(in *Input) {
			in.Final.Orphans = []string{"a1: pid 9 still runs: sleep 1000000"}
		}},
		{"stale read", "registry history is linearizable", "", func(in *Input) {
			in.Record.Lin = append(in.Record.Lin,
				lincheck.Op{Kind: lincheck.RoleWrite, Key: "r", Value: 2, Call: 40, Return: 50, Outcome: lincheck.OK},
				lincheck.Op{Kind: lincheck.RoleRead, Roles: map[string]float64{"r": 1}, Call: 60, Return: 70, Outcome: lincheck.OK})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := goodInput(t)
			c.mutate(&in)
			got := failed(Check(in))
			if got[c.check] == nil {
				t.Fatalf("want %q to fail, got %v", c.check, got)
			}
			for name := range got {
				if name != c.check && name != c.also {
					t.Fatalf("only %q (and %q) should fail, got %v", c.check, c.also, got)
				}
			}
		})
	}
}

func TestParseLedger(t *testing.T) {
	runs, problems, err := ParseLedger(strings.NewReader("S f t1 1\nS f t2 2\nE f t1 1 3\ngarbage\nE f t2 2 x\nS f t2 5\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r := runs["f/t1"]; r.Starts != 1 || !r.Ended || r.Code != 3 {
		t.Fatalf("t1: %+v", r)
	}
	if r := runs["f/t2"]; r.Starts != 2 || r.Ended {
		t.Fatalf("t2: %+v", r)
	}
	if len(problems) != 2 {
		t.Fatalf("want 2 problems (torn line, bad code), got %v", problems)
	}
}

func TestScheduleIsDeterministicAndCoversEveryFault(t *testing.T) {
	a, b := NewSchedule(42), NewSchedule(42)
	seen := map[FaultKind]int{}
	for i := 0; i < 3*len(AllFaults); i++ {
		fa, fb := a.Next(), b.Next()
		if fa != fb {
			t.Fatalf("fault %d differs for the same seed: %v vs %v", i, fa, fb)
		}
		d := durations[fa.Kind]
		if fa.For < d[0] || fa.For >= d[1] || fa.After < time.Second || fa.Seq != i+1 {
			t.Fatalf("fault out of bounds: %+v", fa)
		}
		seen[fa.Kind]++
		if (i+1)%len(AllFaults) == 0 {
			for _, k := range AllFaults {
				if seen[k] != (i+1)/len(AllFaults) {
					t.Fatalf("after %d faults, %s ran %d times: %v", i+1, k, seen[k], seen)
				}
			}
		}
	}
	other := NewSchedule(43)
	same := true
	c := NewSchedule(42)
	for i := 0; i < len(AllFaults); i++ {
		same = same && other.Next() == c.Next()
	}
	if same {
		t.Fatal("seeds 42 and 43 gave the same schedule")
	}
}

func TestSummaryNamesFailures(t *testing.T) {
	in := goodInput(t)
	in.Ledger["run-batch/b-1"].Starts = 2
	rep := &Report{Seed: 3, FaultCounts: map[FaultKind]int{KillLeader: 1}, Verdict: Check(in),
		Faults: []Event{{Fault: Fault{Kind: KillLeader, For: time.Second}, Target: "m1", Leader: "m1", Term: 2}}}
	s := Summary(rep)
	for _, want := range []string{"chaos FAIL", "kill-leader 1", "FAIL no task attempt run twice", "run-batch/b-1 started 2 times"} {
		if !strings.Contains(s, want) {
			t.Fatalf("summary lacks %q:\n%s", want, s)
		}
	}
}
