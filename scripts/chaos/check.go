package chaos

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/agora-cluster/agora/scripts/chaos/workload"
	"github.com/agora-cluster/agora/scripts/lincheck"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Execution is what a task attempt wrote to the ledger.
type Execution struct {
	Framework string
	Task      string
	Starts    int
	// Ended is true when a batch task reached its end and wrote its exit
	// code (Code).
	Ended bool
	Code  int
}

// ParseLedger reads the ledger tasks append to: "S fw task pid" when a task
// starts and "E fw task pid code" when a batch task ends. Torn or unknown
// lines are returned as problems.
func ParseLedger(r io.Reader) (map[string]*Execution, []string, error) {
	runs := map[string]*Execution{}
	var problems []string
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || (f[0] != "S" && f[0] != "E") || (f[0] == "E" && len(f) < 5) {
			problems = append(problems, fmt.Sprintf("ledger line %d unreadable: %q", n, sc.Text()))
			continue
		}
		key := f[1] + "/" + f[2]
		run := runs[key]
		if run == nil {
			run = &Execution{Framework: f[1], Task: f[2]}
			runs[key] = run
		}
		if f[0] == "S" {
			run.Starts++
			continue
		}
		code, err := strconv.Atoi(f[4])
		if err != nil {
			problems = append(problems, fmt.Sprintf("ledger line %d: bad exit code %q", n, f[4]))
			continue
		}
		run.Ended, run.Code = true, code
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("chaos: read ledger: %w", err)
	}
	return runs, problems, nil
}

// AgentView is an agent as the leader's GET /api/v1/agents shows it.
type AgentView struct {
	ID        string         `json:"id"`
	Resources wire.Resources `json:"resources"`
	Used      wire.Resources `json:"used"`
	Offered   wire.Resources `json:"offered"`
	State     string         `json:"state"`
}

// TaskView is a task in the leader's GET /api/v1/state.
type TaskView struct {
	ID          string         `json:"id"`
	FrameworkID string         `json:"framework_id"`
	AgentID     string         `json:"agent_id"`
	State       wire.TaskState `json:"state"`
	Resources   wire.Resources `json:"resources"`
}

// Final is the cluster as the harness found it after healing and draining.
type Final struct {
	Leader string      `json:"leader"`
	Term   uint64      `json:"term"`
	Agents []AgentView `json:"agents"`
	// Tasks are the leader's non-terminal tasks.
	Tasks []TaskView `json:"tasks"`
	// AgentTotal is what every agent was started with.
	AgentTotal wire.Resources `json:"agent_total"`
	// Orphans are processes left in agents' namespaces besides the agents.
	Orphans []string `json:"orphans,omitempty"`
	// Drained says whether every framework had an answer for every task
	// before the deadline.
	Drained bool `json:"drained"`
}

// Input is everything the checker looks at.
type Input struct {
	Record workload.Record
	Ledger map[string]*Execution
	// LedgerProblems are unreadable ledger lines.
	LedgerProblems []string
	Final          Final
	// Lin tunes the linearizability check.
	Lin lincheck.Options
}

// CheckResult is the verdict of one check.
type CheckResult struct {
	Name       string   `json:"name"`
	OK         bool     `json:"ok"`
	Checked    int      `json:"checked"`
	Violations []string `json:"violations,omitempty"`
	// More counts violations left out of Violations.
	More int `json:"more,omitempty"`
}

const maxViolations = 25

func (c *CheckResult) fail(format string, args ...any) {
	c.OK = false
	if len(c.Violations) < maxViolations {
		c.Violations = append(c.Violations, fmt.Sprintf(format, args...))
	} else {
		c.More++
	}
}

// Verdict is the checker's answer.
type Verdict struct {
	Checks []CheckResult   `json:"checks"`
	Lin    lincheck.Result `json:"linearizability"`
	// LinStrict is the history checked without any staleness allowance
	// (informational when Input.Lin allows some).
	LinStrict *lincheck.Result `json:"linearizability_strict,omitempty"`
	Stats     Stats            `json:"stats"`
}

// OK reports whether every check passed.
func (v Verdict) OK() bool {
	for _, c := range v.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

// Stats describe what the run exercised.
type Stats struct {
	// Per framework mode: tasks issued, launched (per the master), that
	// ran (per the ledger), and final states by name.
	Issued   map[string]int            `json:"issued"`
	Launched map[string]int            `json:"launched"`
	Ran      map[string]int            `json:"ran"`
	Final    map[string]map[string]int `json:"final_states"`
	Updates  int                       `json:"updates"`
	// Terms are the raft terms in which a master sent something; Leaders
	// the announced leaders in order.
	Terms   []uint64 `json:"terms"`
	Leaders []string `json:"leaders"`
	// StaleDeliveries counts messages a framework's subject received
	// from an older term after a newer one had arrived (the driver drops
	// them).
	StaleDeliveries int `json:"stale_deliveries"`
	Subscriptions   int `json:"subscriptions"`
	LaunchMessages  int `json:"launch_messages"`
	Samples         int `json:"accounting_samples"`
}

// Check runs every check.
func Check(in Input) Verdict {
	var v Verdict
	v.Stats = stats(in)
	v.Checks = append(v.Checks,
		checkNoTaskLost(in),
		checkNoDoubleRun(in),
		checkTerminalDelivered(in),
		checkTerminalFinal(in),
		checkNoDenial(in),
		checkOneMasterPerTerm(in),
		checkAccounting(in),
		checkNoOrphans(in),
	)
	v.Lin = lincheck.Check(in.Record.Lin, in.Lin)
	name := "registry history is linearizable"
	if len(in.Lin.Staleness) > 0 {
		strictOpts := in.Lin
		strictOpts.Staleness, strictOpts.VisualizeDir = nil, ""
		strict := lincheck.Check(in.Record.Lin, strictOpts)
		v.LinStrict = &strict
		var allow []string
		for k, d := range in.Lin.Staleness {
			allow = append(allow, fmt.Sprintf("%s %s", k, d))
		}
		sort.Strings(allow)
		name += " (stale reads allowed: " + strings.Join(allow, ", ") + ")"
	}
	lin := CheckResult{Name: name, OK: v.Lin.OK(), Checked: v.Lin.Checked}
	if !lin.OK {
		lin.Violations = strings.Split(v.Lin.String(), "\n")
	}
	v.Checks = append(v.Checks, lin)
	return v
}

func ledgerKey(fw wire.FrameworkID, task wire.TaskID) string { return string(fw) + "/" + string(task) }

// finalUpdate returns the first terminal update (or TASK_UNKNOWN) a task
// got, and its index.
func finalUpdate(t workload.TaskRecord) (workload.UpdateSeen, int) {
	for i, u := range t.Updates {
		if u.State.Terminal() {
			return u, i
		}
	}
	for i, u := range t.Updates {
		if u.State == wire.TaskUnknown {
			return u, i
		}
	}
	return workload.UpdateSeen{}, -1
}

// terminalOf returns the first terminal update, ignoring TASK_UNKNOWN.
func terminalOf(t workload.TaskRecord) (workload.UpdateSeen, bool) {
	for _, u := range t.Updates {
		if u.State.Terminal() {
			return u, true
		}
	}
	return workload.UpdateSeen{}, false
}

// checkNoTaskLost: every task that was (or may have been) launched got a
// final answer; one the master answered TASK_UNKNOWN must not have run; the
// frameworks drained; and the leader believes none of their tasks still
// runs.
func checkNoTaskLost(in Input) CheckResult {
	c := CheckResult{Name: "no task lost", OK: true}
	if !in.Final.Drained {
		c.fail("the frameworks did not get an answer for every task before the drain deadline")
	}
	known := map[string]bool{}
	for _, fw := range in.Record.Frameworks {
		for _, t := range fw.Tasks {
			known[ledgerKey(fw.ID, t.ID)] = true
			run := in.Ledger[ledgerKey(fw.ID, t.ID)]
			if t.Accept == workload.AcceptRefused {
				if run != nil {
					c.fail("%s %s ran although the master refused its launch (%s)", fw.Name, t.ID, t.AcceptErr)
				}
				continue
			}
			c.Checked++
			u, i := finalUpdate(t)
			switch {
			case i < 0:
				c.fail("%s %s (launch: %s, on %s) never got a final state; updates: %s", fw.Name, t.ID, t.Accept, t.Agent, updateList(t))
			case u.State == wire.TaskUnknown && run != nil:
				if _, ok := terminalOf(t); !ok {
					c.fail("%s %s ran (ledger) but the master answered TASK_UNKNOWN and no terminal state followed; updates: %s", fw.Name, t.ID, updateList(t))
				}
			}
		}
	}
	for key, run := range in.Ledger {
		if !known[key] && strings.HasPrefix(run.Framework, runPrefixOf(in)) {
			c.fail("%s ran (ledger) but no framework knows the task", key)
		}
	}
	mine := map[string]bool{}
	for _, fw := range in.Record.Frameworks {
		mine[string(fw.ID)] = true
	}
	for _, t := range in.Final.Tasks {
		if mine[t.FrameworkID] {
			c.fail("after the drain the leader still believes %s %s is %s on %s", t.FrameworkID, t.ID, t.State, t.AgentID)
		}
	}
	return c
}

func runPrefixOf(in Input) string {
	if len(in.Record.Frameworks) == 0 {
		return "\x00"
	}
	id := string(in.Record.Frameworks[0].ID)
	if i := strings.LastIndex(id, "-"); i > 0 {
		return id[:i+1]
	}
	return id
}

// checkNoDoubleRun: no task attempt started twice.
func checkNoDoubleRun(in Input) CheckResult {
	c := CheckResult{Name: "no task attempt run twice", OK: true}
	keys := sortedKeys(in.Ledger)
	for _, k := range keys {
		c.Checked++
		if r := in.Ledger[k]; r.Starts > 1 {
			c.fail("%s started %d times", k, r.Starts)
		}
	}
	for _, p := range in.LedgerProblems {
		c.fail("%s", p)
	}
	return c
}

// checkTerminalDelivered: every task that ran got a terminal state, and
// the state agrees with how it ended (a batch task that exited 0 is
// FINISHED, one that exited non-zero FAILED; a task reported FINISHED or
// FAILED by its agent really ended that way).
func checkTerminalDelivered(in Input) CheckResult {
	c := CheckResult{Name: "every terminal state delivered to its framework", OK: true}
	byKey := map[string]workload.TaskRecord{}
	names := map[string]string{}
	for _, fw := range in.Record.Frameworks {
		for _, t := range fw.Tasks {
			byKey[ledgerKey(fw.ID, t.ID)] = t
			names[ledgerKey(fw.ID, t.ID)] = fw.Name
		}
	}
	for _, k := range sortedKeys(in.Ledger) {
		run := in.Ledger[k]
		t, ok := byKey[k]
		if !ok {
			continue // reported by "no task lost"
		}
		c.Checked++
		u, ok := terminalOf(t)
		if !ok {
			c.fail("%s ran but its framework got no terminal state; updates: %s", k, updateList(t))
			continue
		}
		if run.Ended {
			want := wire.TaskFinished
			if run.Code != 0 {
				want = wire.TaskFailed
			}
			if u.State != want {
				c.fail("%s exited %d (ledger) but its framework was told %s (%s: %s)", k, run.Code, u.State, u.Reason, u.Message)
			}
			continue
		}
		if u.State == wire.TaskFinished {
			c.fail("%s was reported FINISHED but never reached its end (ledger)", k)
		}
	}
	return c
}

// checkTerminalFinal: once a terminal state was delivered, no other state
// follows (a repeat of the same state, e.g. an answer to reconciliation,
// is fine).
func checkTerminalFinal(in Input) CheckResult {
	c := CheckResult{Name: "terminal states are final", OK: true}
	for _, fw := range in.Record.Frameworks {
		for _, t := range fw.Tasks {
			c.Checked++
			first := -1
			for i, u := range t.Updates {
				if u.State.Terminal() {
					first = i
					break
				}
			}
			if first < 0 {
				continue
			}
			u := t.Updates[first]
			for _, later := range t.Updates[first+1:] {
				if later.State != u.State {
					c.fail("%s %s: %s after terminal %s (%s); updates: %s", fw.Name, t.ID, later.State, u.State, u.Reason, updateList(t))
					break
				}
			}
		}
	}
	return c
}

// checkNoDenial: the master never answers TASK_UNKNOWN for a task that is
// alive (a later update shows it starting, running or ending).
func checkNoDenial(in Input) CheckResult {
	c := CheckResult{Name: "reconciliation never denies a live task", OK: true}
	for _, fw := range in.Record.Frameworks {
		for _, t := range fw.Tasks {
			c.Checked++
			denied := -1
			for i, u := range t.Updates {
				if u.State == wire.TaskUnknown {
					denied = i
					break
				}
			}
			if denied < 0 {
				continue
			}
			for _, later := range t.Updates[denied+1:] {
				switch later.State {
				case wire.TaskStarting, wire.TaskRunning, wire.TaskKilling, wire.TaskFinished, wire.TaskFailed, wire.TaskKilled:
					c.fail("%s %s: TASK_UNKNOWN at %.1fs (%s), then %s at %.1fs; updates: %s", fw.Name, t.ID,
						time.Duration(t.Updates[denied].At).Seconds(), t.Updates[denied].Message, later.State, time.Duration(later.At).Seconds(), updateList(t))
				default:
					continue
				}
				break
			}
		}
	}
	return c
}

// checkOneMasterPerTerm: in every term, every master-sent message any
// observer saw came from one master.
func checkOneMasterPerTerm(in Input) CheckResult {
	c := CheckResult{Name: "at most one master sent in each term", OK: true}
	from := map[uint64]map[string][]string{}
	for _, ts := range in.Record.Terms {
		if from[ts.Term] == nil {
			from[ts.Term] = map[string][]string{}
		}
		from[ts.Term][ts.From] = append(from[ts.Term][ts.From], fmt.Sprintf("%s×%d seen by %s", ts.Type, ts.Count, ts.Observer))
	}
	terms := make([]uint64, 0, len(from))
	for t := range from {
		terms = append(terms, t)
	}
	sort.Slice(terms, func(i, j int) bool { return terms[i] < terms[j] })
	for _, t := range terms {
		c.Checked++
		if len(from[t]) > 1 {
			var parts []string
			for f, what := range from[t] {
				parts = append(parts, fmt.Sprintf("%s: %s", f, strings.Join(what, ", ")))
			}
			sort.Strings(parts)
			c.fail("term %d: messages from %d masters: %s", t, len(from[t]), strings.Join(parts, "; "))
		}
	}
	if len(terms) == 0 {
		c.fail("no master message was observed at all")
	}
	return c
}

// checkAccounting: during the run offered + used never exceeded an agent's
// total; at the end every agent is active with its configured total, used
// is the sum of the leader's tasks there (nothing, after the drain) and
// free = total - used - offered is not negative.
func checkAccounting(in Input) CheckResult {
	c := CheckResult{Name: "free + used == total on every agent", OK: true}
	for _, v := range in.Record.AllocViolations {
		c.fail("during the run: %s", v)
	}
	c.Checked += in.Record.Samples
	used := map[string]wire.Resources{}
	for _, t := range in.Final.Tasks {
		used[t.AgentID] = used[t.AgentID].Add(t.Resources)
	}
	if len(in.Final.Agents) == 0 {
		c.fail("the leader listed no agents at the end")
	}
	for _, a := range in.Final.Agents {
		c.Checked++
		if a.State != "ACTIVE" {
			c.fail("agent %s is %s at the end", a.ID, a.State)
		}
		if !a.Resources.Equal(in.Final.AgentTotal) {
			c.fail("agent %s: total %s, but it was started with %s", a.ID, a.Resources, in.Final.AgentTotal)
		}
		if !a.Used.Equal(used[a.ID]) {
			c.fail("agent %s: used %s, but its tasks at the leader add up to %s", a.ID, a.Used, used[a.ID])
		}
		free := a.Resources.Sub(a.Used).Sub(a.Offered)
		if !free.Contains(wire.Resources{}) {
			c.fail("agent %s: free %s = total %s - used %s - offered %s is negative", a.ID, free, a.Resources, a.Used, a.Offered)
		}
		if !free.Add(a.Used).Add(a.Offered).Equal(a.Resources) {
			c.fail("agent %s: free %s + used %s + offered %s != total %s", a.ID, free, a.Used, a.Offered, a.Resources)
		}
	}
	return c
}

func checkNoOrphans(in Input) CheckResult {
	c := CheckResult{Name: "no task process outlives its terminal state", OK: true, Checked: len(in.Final.Agents)}
	for _, o := range in.Final.Orphans {
		c.fail("%s", o)
	}
	return c
}

func stats(in Input) Stats {
	s := Stats{Issued: map[string]int{}, Launched: map[string]int{}, Ran: map[string]int{}, Final: map[string]map[string]int{}, Samples: in.Record.Samples}
	for _, fw := range in.Record.Frameworks {
		s.Final[fw.Mode] = map[string]int{}
		s.Subscriptions += len(fw.Subscriptions)
		for _, t := range fw.Tasks {
			s.Issued[fw.Mode]++
			if t.Accept == workload.AcceptLaunched {
				s.Launched[fw.Mode]++
			}
			if r := in.Ledger[ledgerKey(fw.ID, t.ID)]; r != nil {
				s.Ran[fw.Mode]++
			}
			s.Updates += len(t.Updates)
			switch u, i := finalUpdate(t); {
			case i >= 0:
				s.Final[fw.Mode][string(u.State)]++
			case t.Accept == workload.AcceptRefused:
				s.Final[fw.Mode]["(refused, no update)"]++
			default:
				s.Final[fw.Mode]["(none)"]++
			}
		}
	}
	seen := map[uint64]bool{}
	type sighting struct {
		observer string
		term     uint64
		first    int64
		last     int64
		count    int
	}
	var fwSightings []sighting
	for _, ts := range in.Record.Terms {
		if !seen[ts.Term] {
			seen[ts.Term] = true
			s.Terms = append(s.Terms, ts.Term)
		}
		if strings.HasPrefix(ts.Observer, "fw/") {
			fwSightings = append(fwSightings, sighting{ts.Observer, ts.Term, ts.First, ts.Last, ts.Count})
		}
	}
	sort.Slice(s.Terms, func(i, j int) bool { return s.Terms[i] < s.Terms[j] })
	// A message of term t seen after the first message of a newer term
	// on the same subject was stale; count the sightings that ended later.
	for _, a := range fwSightings {
		for _, b := range fwSightings {
			if a.observer == b.observer && b.term > a.term && a.last > b.first {
				s.StaleDeliveries++
				break
			}
		}
	}
	for _, l := range in.Record.Leaders {
		s.Leaders = append(s.Leaders, fmt.Sprintf("%s@%d (%.1fs)", l.Name, l.Term, time.Duration(l.At).Seconds()))
	}
	s.LaunchMessages = len(in.Record.Launches)
	return s
}

// updateList renders a task's updates compactly: repeats are counted, and
// only the first and last few are shown.
func updateList(t workload.TaskRecord) string {
	if len(t.Updates) == 0 {
		return "none"
	}
	var parts []string
	for i := 0; i < len(t.Updates); {
		u := t.Updates[i]
		j := i + 1
		for j < len(t.Updates) && t.Updates[j].State == u.State && t.Updates[j].Reason == u.Reason {
			j++
		}
		p := fmt.Sprintf("%.1fs %s", time.Duration(u.At).Seconds(), strings.TrimPrefix(string(u.State), "TASK_"))
		if u.Reason != "" {
			p += "/" + strings.TrimPrefix(string(u.Reason), "REASON_")
		}
		if j-i > 1 {
			p += fmt.Sprintf(" ×%d (to %.1fs)", j-i, time.Duration(t.Updates[j-1].At).Seconds())
		}
		parts = append(parts, p)
		i = j
	}
	if len(parts) > 12 {
		parts = append(append(parts[:4:4], fmt.Sprintf("... %d more ...", len(parts)-10)), parts[len(parts)-6:]...)
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
