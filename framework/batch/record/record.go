// Package record defines what the batch framework keeps about jobs, runs
// and task attempts: the records the store persists, the engine updates
// and the HTTP API returns.
package record

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/agora-cluster/agora/framework/batch/spec"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Job is a submitted job.
type Job struct {
	Spec    spec.Job  `json:"spec"`
	Version int       `json:"version"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	// ScheduleCursor is the latest scheduled time already handled
	// (started, skipped or missed); the next one comes after it.
	ScheduleCursor time.Time `json:"schedule_cursor,omitzero"`
	// LastRun is the job's newest run (not counting MISSED and SKIPPED
	// records); DAG children look at it.
	LastRun *RunRef `json:"last_run,omitempty"`
}

// RunRef names a run and the state it was in.
type RunRef struct {
	ID    uint64   `json:"id"`
	State RunState `json:"state"`
}

// RunState is the state of a run.
type RunState string

// Run states.
const (
	// RunRunning: tasks are being launched and run.
	RunRunning RunState = "RUNNING"
	// RunStopping: the run's outcome is decided (see Run.Outcome); its
	// remaining tasks are being killed.
	RunStopping  RunState = "STOPPING"
	RunSucceeded RunState = "SUCCEEDED"
	RunFailed    RunState = "FAILED"
	RunKilled    RunState = "KILLED"
	// RunMissed records a scheduled start that was too late.
	RunMissed RunState = "MISSED"
	// RunSkipped records a scheduled start that the FORBID concurrency
	// policy skipped.
	RunSkipped RunState = "SKIPPED"
)

// Terminal reports whether the run is over.
func (s RunState) Terminal() bool { return s != RunRunning && s != RunStopping }

// Trigger says what started a run.
type Trigger string

// Triggers.
const (
	TriggerSubmit     Trigger = "SUBMIT"
	TriggerManual     Trigger = "MANUAL"
	TriggerSchedule   Trigger = "SCHEDULE"
	TriggerDependency Trigger = "DEPENDENCY"
)

// Run is one run of a job: Spec.Instances tasks.
type Run struct {
	ID         uint64   `json:"id"`
	Job        string   `json:"job"`
	JobVersion int      `json:"job_version"`
	Spec       spec.Job `json:"spec"`
	Trigger    Trigger  `json:"trigger"`
	// ScheduledFor is the cron time a scheduled run (or miss) is for.
	ScheduledFor time.Time `json:"scheduled_for,omitzero"`
	// Cause says more about the trigger, e.g. the parent run.
	Cause   string   `json:"cause,omitempty"`
	State   RunState `json:"state"`
	Outcome RunState `json:"outcome,omitempty"`
	// Message explains a failure, kill, skip or miss.
	Message  string    `json:"message,omitempty"`
	Created  time.Time `json:"created"`
	Finished time.Time `json:"finished,omitzero"`
	// Summary is the run's final progress, filled in when it ends.
	Summary *Progress `json:"summary,omitempty"`
}

// AttemptState is what the framework knows of one task attempt.
type AttemptState string

// Attempt states.
const (
	// AttemptLaunching: stored before the launch is sent; the master may
	// or may not have it (reconciliation tells).
	AttemptLaunching AttemptState = "LAUNCHING"
	AttemptStaging   AttemptState = "STAGING"
	AttemptRunning   AttemptState = "RUNNING"
	// AttemptUnreachable: its agent is unreachable; it may come back.
	AttemptUnreachable AttemptState = "UNREACHABLE"
	AttemptSucceeded   AttemptState = "SUCCEEDED"
	AttemptFailed      AttemptState = "FAILED"
	AttemptKilled      AttemptState = "KILLED"
	// AttemptLost: the task ended through no fault of its own (agent
	// lost, dropped, unknown to the master); retried without counting.
	AttemptLost AttemptState = "LOST"
)

// Terminal reports whether the attempt is over.
func (s AttemptState) Terminal() bool {
	switch s {
	case AttemptSucceeded, AttemptFailed, AttemptKilled, AttemptLost:
		return true
	}
	return false
}

// Attempt is one try at running one instance of a run: one task ID.
type Attempt struct {
	TaskID   wire.TaskID  `json:"task_id"`
	Run      uint64       `json:"run"`
	Instance int          `json:"instance"`
	N        int          `json:"n"`
	AgentID  wire.AgentID `json:"agent_id"`
	Hostname string       `json:"hostname,omitempty"`
	State    AttemptState `json:"state"`
	// TaskState is the last task state the master or agent reported.
	TaskState wire.TaskState `json:"task_state,omitempty"`
	Reason    wire.Reason    `json:"reason,omitempty"`
	Message   string         `json:"message,omitempty"`
	ExitCode  *int           `json:"exit_code,omitempty"`
	Launched  time.Time      `json:"launched"`
	Started   time.Time      `json:"started,omitzero"`
	Finished  time.Time      `json:"finished,omitzero"`
	// KillReason, if set, says why the framework killed the attempt.
	KillReason KillReason `json:"kill_reason,omitempty"`
	KillSent   time.Time  `json:"kill_sent,omitzero"`
}

// KillReason says why the framework killed an attempt.
type KillReason string

// Kill reasons.
const (
	// KillTimeout: the attempt ran out of time; it counts as failed.
	KillTimeout KillReason = "TIMEOUT"
	// KillRunStopped: the run was killed, failed or replaced.
	KillRunStopped KillReason = "RUN_STOPPED"
	// KillOrphan: the framework does not want the task (it knows no
	// attempt for it, or the attempt had already been given up).
	KillOrphan KillReason = "ORPHAN"
)

// Active reports whether the attempt still holds (or may hold) a task.
func (a *Attempt) Active() bool { return !a.State.Terminal() }

// TaskID returns the task ID of an attempt: job_run_instance_attempt.
// Job names have no '_', so the ID parses back unambiguously.
func TaskID(job string, run uint64, instance, n int) wire.TaskID {
	return wire.TaskID(job + "_" + strconv.FormatUint(run, 10) + "_" + strconv.Itoa(instance) + "_" + strconv.Itoa(n))
}

// ParseTaskID splits a task ID made by TaskID.
func ParseTaskID(id wire.TaskID) (job string, run uint64, instance, n int, err error) {
	parts := strings.Split(string(id), "_")
	if len(parts) != 4 || parts[0] == "" {
		return "", 0, 0, 0, fmt.Errorf("task ID %q is not job_run_instance_attempt", id)
	}
	run, err1 := strconv.ParseUint(parts[1], 10, 64)
	instance, err2 := strconv.Atoi(parts[2])
	n, err3 := strconv.Atoi(parts[3])
	if err1 != nil || err2 != nil || err3 != nil || instance < 0 || n < 1 {
		return "", 0, 0, 0, fmt.Errorf("task ID %q is not job_run_instance_attempt", id)
	}
	return parts[0], run, instance, n, nil
}
