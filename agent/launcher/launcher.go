package launcher

import (
	"context"
	"errors"
	"time"

	"github.com/agora-cluster/agora/agent/isolation"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Errors callers branch on.
var (
	// ErrGone means Attach found neither the task's process nor a recorded
	// exit status.
	ErrGone = errors.New("launcher: task process is gone")
	// ErrInvalidSpec means Launch refused the spec before starting anything.
	ErrInvalidSpec = errors.New("launcher: invalid task spec")
	// ErrLaunch means the task could not be started (a missing program, a
	// sandbox that cannot be created, fork failure ...).
	ErrLaunch = errors.New("launcher: cannot start task")
	// ErrWrongExecutor means a checkpoint was made by another executor.
	ErrWrongExecutor = errors.New("launcher: checkpoint belongs to another executor")
	// ErrNotRunning is returned by Usage once the task has ended.
	ErrNotRunning = errors.New("launcher: task is not running")
	// ErrUnsupported means the process executor does not run on this OS.
	ErrUnsupported = errors.New("launcher: process tasks are not supported on this platform")
)

// Spec is what to launch.
type Spec struct {
	FrameworkID wire.FrameworkID `json:"framework_id"`
	// Task says what to run: Command (Shell runs `sh -c Value`, otherwise
	// Value with Args), Env, KillGrace, Resources (cpus and mem become
	// cgroup limits) and, for the simulated executor only, Sim.
	Task wire.TaskInfo `json:"task"`
	// Run numbers attempts of the same task ID and names the sandbox. If
	// that run's directory exists already, the next free number is used;
	// Task.Sandbox says which.
	Run int `json:"run"`
	// Ports are the task's allocated ports, passed as PORT0..PORTn-1 and
	// PORT (= PORT0).
	Ports []uint64 `json:"ports,omitempty"`
}

// Exit says how a task ended.
type Exit struct {
	// State is TASK_FINISHED (exit 0), TASK_FAILED (non-zero exit, a
	// signal, the memory limit, or an unknown end) or TASK_KILLED (ended
	// after Kill).
	State wire.TaskState `json:"state"`
	// Reason is REASON_COMMAND_EXITED for an exit on its own, the reason
	// given to Kill for a kill, REASON_MEMORY_LIMIT for an OOM kill in the
	// task's cgroup, or REASON_AGENT_RESTARTED when the task ended while no
	// agent was watching and left no exit status.
	Reason wire.Reason `json:"reason,omitempty"`
	// ExitCode is set when the task exited normally.
	ExitCode *int `json:"exit_code,omitempty"`
	// Signal names the signal that ended the task ("SIGKILL"), if one did.
	Signal string `json:"signal,omitempty"`
	// Message is for people: "exited with code 3", "killed by SIGKILL
	// after 3s grace" ...
	Message string `json:"message"`
}

// Usage is what a running task's processes consume.
type Usage struct {
	// CPUSeconds is user+system time of the task's live processes,
	// including the children they have already reaped.
	CPUSeconds float64 `json:"cpu_seconds"`
	// RSSBytes is the resident memory of the task's live processes.
	RSSBytes uint64 `json:"rss_bytes"`
	// Processes counts the task's live processes (the wrapper included).
	Processes int `json:"processes"`
}

// Checkpoint is what the agent persists about a running task so that it
// can Attach again after a restart. It is plain JSON-encodable data.
type Checkpoint struct {
	// Executor is the Name of the executor that launched the task.
	Executor string `json:"executor"`
	Spec     Spec   `json:"spec"`
	// Pid is the process group leader (the wrapper); it is also the pgid.
	Pid int `json:"pid,omitempty"`
	// StartTicks is the leader's start time in clock ticks after boot
	// (field 22 of /proc/<pid>/stat): together with Pid it identifies the
	// process even if the pid is reused.
	StartTicks uint64 `json:"start_ticks,omitempty"`
	// Sandbox is the run's directory.
	Sandbox string `json:"sandbox,omitempty"`
	// Cgroup is the task's cgroup, if it has one.
	Cgroup *isolation.State `json:"cgroup,omitempty"`
	// Started is when the task was launched.
	Started time.Time `json:"started"`
}

// Executor launches tasks and re-attaches to them.
type Executor interface {
	// Launch starts the task and returns once it runs, or an error
	// (wrapping ErrInvalidSpec or ErrLaunch) if it could not be started.
	// ctx bounds only the start; the task outlives it.
	Launch(ctx context.Context, spec Spec) (Task, error)
	// Attach re-attaches to a task from its checkpoint after an agent
	// restart. If the process still runs (same pid and start time), the
	// Task is live; if it ended but left its exit status, the Task is
	// already Done with that exit; otherwise Attach returns ErrGone.
	Attach(ctx context.Context, cp Checkpoint) (Task, error)
	// Name identifies the executor ("process", "sim").
	Name() string
}

// Task is one launched task.
type Task interface {
	// Pid is the process group leader's pid (0 for simulated tasks).
	Pid() int
	// Sandbox is the run directory ("" for simulated tasks).
	Sandbox() string
	// Checkpoint returns what to persist to re-attach later.
	Checkpoint() Checkpoint
	// Done is closed when the task has ended and Exit is valid.
	Done() <-chan struct{}
	// Exit says how the task ended; valid once Done is closed.
	Exit() Exit
	// Kill sends SIGTERM to the task's process group and SIGKILL after
	// grace. grace 0 means the task's KillGrace, or else the executor's
	// default; a negative grace means SIGKILL at once. It returns at once;
	// calls after the first, or after the task ended, do nothing.
	Kill(grace time.Duration, reason wire.Reason)
	// Usage reports what the task's processes use now; ErrNotRunning once
	// the task has ended.
	Usage() (Usage, error)
}
