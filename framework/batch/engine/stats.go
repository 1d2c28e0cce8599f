package engine

import (
	"maps"
	"strings"

	"github.com/agora-cluster/agora/framework/batch/record"
	"github.com/agora-cluster/agora/sdk/wire"
)

// counters are the engine's event counts since it was built, for
// metrics. They are guarded by e.mu.
type counters struct {
	offersReceived  uint64
	offersAccepted  uint64
	offersDeclined  uint64
	offersRescinded uint64
	updates         map[wire.TaskState]uint64
	tasksLaunched   uint64
	retries         uint64
	// ended counts attempts by the terminal task state they ended in.
	ended map[wire.TaskState]uint64
	// runs counts finished runs (and MISSED and SKIPPED records) by
	// their final state.
	runs map[record.RunState]uint64
}

func newCounters() counters {
	return counters{
		updates: map[wire.TaskState]uint64{},
		ended:   map[wire.TaskState]uint64{},
		runs:    map[record.RunState]uint64{},
	}
}

// Stats is a snapshot of the engine for metrics: its current state and
// its event counts since it was built.
type Stats struct {
	// Subscribed is true from a subscription until the driver reports
	// the master lost.
	Subscribed bool
	Jobs       int
	ActiveRuns int
	// Tasks counts tasks by task state: the non-terminal states count
	// the attempts that are not over, by their last known state
	// (TASK_STAGING until the first update); the terminal states (and
	// TASK_UNKNOWN) count the attempts that ended in them since the
	// engine was built.
	Tasks map[wire.TaskState]int

	OffersReceived  uint64
	OffersAccepted  uint64
	OffersDeclined  uint64
	OffersRescinded uint64
	// Updates counts status updates received, by state.
	Updates map[wire.TaskState]uint64
	// TasksLaunched counts tasks the master took for launch.
	TasksLaunched uint64
	// Retries counts launched attempts that were not their instance's
	// first.
	Retries uint64
	// Runs counts runs that ended, by [RunResult] of their final state
	// ("succeeded", "failed", "killed"), and the "missed" and "skipped"
	// records of scheduled starts.
	Runs map[string]uint64
}

// Stats returns a snapshot of the engine's state and counts. It holds the
// engine's lock only to copy them.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := Stats{
		Subscribed:      e.subscribed,
		Jobs:            len(e.jobs),
		ActiveRuns:      len(e.runs),
		Tasks:           map[wire.TaskState]int{},
		OffersReceived:  e.count.offersReceived,
		OffersAccepted:  e.count.offersAccepted,
		OffersDeclined:  e.count.offersDeclined,
		OffersRescinded: e.count.offersRescinded,
		Updates:         maps.Clone(e.count.updates),
		TasksLaunched:   e.count.tasksLaunched,
		Retries:         e.count.retries,
		Runs:            make(map[string]uint64, len(e.count.runs)),
	}
	for _, ref := range e.attempts {
		if !ref.a.Active() {
			continue
		}
		st := ref.a.TaskState
		if st == "" {
			st = wire.TaskStaging
		}
		s.Tasks[st]++
	}
	for st, n := range e.count.ended {
		s.Tasks[st] += int(n)
	}
	for st, n := range e.count.runs {
		s.Runs[RunResult(st)] += n
	}
	return s
}

// RunResult is the name of a run's final state in [Stats.Runs].
func RunResult(s record.RunState) string { return strings.ToLower(string(s)) }

// handleDisconnected notes that the driver lost the master.
func (e *Engine) handleDisconnected() {
	e.mu.Lock()
	e.subscribed = false
	e.mu.Unlock()
}

// handleRescind counts a rescinded offer: offers are answered as they
// arrive, so there is nothing else to do.
func (e *Engine) handleRescind() {
	e.mu.Lock()
	e.count.offersRescinded++
	e.mu.Unlock()
}
