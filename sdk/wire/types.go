package wire

import (
	"fmt"
	"time"
)

// Identifiers. They are plain strings on the wire; distinct Go types keep
// them from being mixed up.
type (
	FrameworkID string
	AgentID     string
	TaskID      string
	OfferID     string
)

// TaskState is the state of a task, as in Mesos.
type TaskState string

// Task states.
const (
	TaskStaging     TaskState = "TASK_STAGING"
	TaskStarting    TaskState = "TASK_STARTING"
	TaskRunning     TaskState = "TASK_RUNNING"
	TaskKilling     TaskState = "TASK_KILLING"
	TaskFinished    TaskState = "TASK_FINISHED"
	TaskFailed      TaskState = "TASK_FAILED"
	TaskKilled      TaskState = "TASK_KILLED"
	TaskError       TaskState = "TASK_ERROR"
	TaskLost        TaskState = "TASK_LOST"
	TaskDropped     TaskState = "TASK_DROPPED"
	TaskUnreachable TaskState = "TASK_UNREACHABLE"
	TaskGone        TaskState = "TASK_GONE"
	TaskUnknown     TaskState = "TASK_UNKNOWN"
)

// Terminal reports whether no further update follows s for the same task.
// TASK_UNREACHABLE is not terminal: the agent may come back.
func (s TaskState) Terminal() bool {
	switch s {
	case TaskFinished, TaskFailed, TaskKilled, TaskError, TaskLost, TaskDropped, TaskGone:
		return true
	}
	return false
}

// Valid reports whether s is one of the known states.
func (s TaskState) Valid() bool {
	switch s {
	case TaskStaging, TaskStarting, TaskRunning, TaskKilling, TaskFinished, TaskFailed,
		TaskKilled, TaskError, TaskLost, TaskDropped, TaskUnreachable, TaskGone, TaskUnknown:
		return true
	}
	return false
}

// Reason says why a task reached a state other than the happy path.
type Reason string

// Reasons.
const (
	ReasonCommandExited      Reason = "REASON_COMMAND_EXITED"
	ReasonKilledByFramework  Reason = "REASON_KILLED_BY_FRAMEWORK"
	ReasonInvalidOffers      Reason = "REASON_INVALID_OFFERS"
	ReasonTaskInvalid        Reason = "REASON_TASK_INVALID"
	ReasonLaunchFailed       Reason = "REASON_LAUNCH_FAILED"
	ReasonAgentUnknown       Reason = "REASON_AGENT_UNKNOWN"
	ReasonAgentRemoved       Reason = "REASON_AGENT_REMOVED"
	ReasonAgentUnreachable   Reason = "REASON_AGENT_UNREACHABLE"
	ReasonAgentRestarted     Reason = "REASON_AGENT_RESTARTED"
	ReasonAgentDraining      Reason = "REASON_AGENT_DRAINING"
	ReasonReconciliation     Reason = "REASON_RECONCILIATION"
	ReasonMemoryLimit        Reason = "REASON_MEMORY_LIMIT"
	ReasonTaskUnhealthy      Reason = "REASON_TASK_UNHEALTHY"
	ReasonFrameworkRemoved   Reason = "REASON_FRAMEWORK_REMOVED"
	ReasonMasterDisconnected Reason = "REASON_MASTER_DISCONNECTED"
	ReasonTaskUnknown        Reason = "REASON_TASK_UNKNOWN"
)

// Source says who produced a status update.
type Source string

// Update sources.
const (
	SourceAgent    Source = "SOURCE_AGENT"
	SourceMaster   Source = "SOURCE_MASTER"
	SourceExecutor Source = "SOURCE_EXECUTOR"
)

// TaskInfo describes a task to launch.
type TaskInfo struct {
	TaskID    TaskID            `json:"task_id"`        // unique within the framework; chosen by the framework
	Name      string            `json:"name,omitempty"` // for people (UIs, logs); sdk.Task sets it to the ID
	AgentID   AgentID           `json:"agent_id"`       // the agent of the offer the task is launched from
	Resources Resources         `json:"resources"`      // what the task is given, ports included; must fit the offer
	Command   CommandInfo       `json:"command"`        // what the task runs
	Env       map[string]string `json:"env,omitempty"`  // extra environment variables (the agent adds PORT, PORT0… and AGORA_*)
	// KillGrace is the time between SIGTERM and SIGKILL when the task is
	// killed; zero means the agent's default.
	KillGrace Duration          `json:"kill_grace,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"` // free key/values for the framework; the master only shows them
	// HealthCheck, if set, is run by the agent while the task runs.
	HealthCheck *HealthCheck `json:"health_check,omitempty"`
	// Sim, when set, asks an agent running the simulated executor for a
	// scripted outcome instead of a process. Real agents reject it.
	Sim *SimBehavior `json:"sim,omitempty"`
}

// CommandInfo is what a task runs: Shell is run with `sh -c`; otherwise
// Value is the program and Args its arguments.
type CommandInfo struct {
	Value string   `json:"value"`           // the shell command (Shell) or the program to execute
	Args  []string `json:"args,omitempty"`  // the program's arguments (without Shell)
	Shell bool     `json:"shell,omitempty"` // run Value with `sh -c`
}

// SimBehavior scripts a simulated task.
type SimBehavior struct {
	// StartDelay is how long the launch itself takes (a slow fetch or
	// sandbox setup), during which the agent reports TASK_STARTING.
	StartDelay Duration `json:"start_delay,omitempty"`
	Duration   Duration `json:"duration,omitempty"`  // how long the simulated task runs before it ends
	ExitCode   int      `json:"exit_code,omitempty"` // 0 ends it TASK_FINISHED, anything else TASK_FAILED
	Hang       bool     `json:"hang,omitempty"`      // run until killed; Duration and ExitCode are ignored
}

// Validate checks the fields a launch needs.
func (t TaskInfo) Validate() error {
	if err := required("task_id", t.TaskID); err != nil {
		return err
	}
	if err := required("agent_id", t.AgentID); err != nil {
		return fmt.Errorf("task %s: %w", t.TaskID, err)
	}
	if t.Command.Value == "" && t.Sim == nil {
		return fmt.Errorf("task %s: missing required field \"command.value\"", t.TaskID)
	}
	if err := t.Resources.Validate(); err != nil {
		return fmt.Errorf("task %s: %w", t.TaskID, err)
	}
	if t.KillGrace < 0 {
		return fmt.Errorf("task %s: negative kill_grace", t.TaskID)
	}
	if t.HealthCheck != nil {
		if err := t.HealthCheck.Validate(); err != nil {
			return fmt.Errorf("task %s: %w", t.TaskID, err)
		}
	}
	return nil
}

// TaskStatus is a status update for one task.
type TaskStatus struct {
	TaskID  TaskID    `json:"task_id"`            // the task the update is about
	AgentID AgentID   `json:"agent_id,omitempty"` // where the task runs (empty if the master does not know)
	State   TaskState `json:"state"`              // the task's new state
	Reason  Reason    `json:"reason,omitempty"`   // why, for states off the happy path (REASON_*)
	Message string    `json:"message,omitempty"`  // human-readable detail
	Source  Source    `json:"source,omitempty"`   // who produced the update: agent, master or executor
	// UUID identifies an update that needs an acknowledgement; updates
	// generated by the master (reconciliation, agent lost) have none.
	UUID      string    `json:"uuid,omitempty"`
	ExitCode  *int      `json:"exit_code,omitempty"` // the command's exit code, once it has exited
	Signal    string    `json:"signal,omitempty"`    // the signal that ended the task, e.g. "SIGTERM"
	Healthy   *bool     `json:"healthy,omitempty"`   // the last health check's verdict, for tasks with a HealthCheck
	Timestamp time.Time `json:"timestamp"`           // when the source produced the update
}

// Validate checks the fields every update has.
func (s TaskStatus) Validate() error {
	if err := required("task_id", s.TaskID); err != nil {
		return err
	}
	if !s.State.Valid() {
		return fmt.Errorf("task %s: invalid state %q", s.TaskID, s.State)
	}
	return nil
}

// Offer is a set of one agent's resources offered to one framework.
type Offer struct {
	ID          OfferID           `json:"id"`                   // names the offer in ACCEPT and DECLINE; valid until used, declined, rescinded or expired
	FrameworkID FrameworkID       `json:"framework_id"`         // the framework the offer is for
	AgentID     AgentID           `json:"agent_id"`             // the one agent whose resources are offered
	Hostname    string            `json:"hostname"`             // the agent's hostname (for constraints and people)
	Resources   Resources         `json:"resources"`            // what may be used, ports included
	Attributes  map[string]string `json:"attributes,omitempty"` // the agent's attributes (for constraints)
}

// Duration is a time.Duration that encodes as a Go duration string
// ("1.5s") and decodes from one or from integer nanoseconds.
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(d).String() + `"`), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		if len(b) < 2 || b[len(b)-1] != '"' {
			return fmt.Errorf("invalid duration %s", b)
		}
		v, err := time.ParseDuration(string(b[1 : len(b)-1]))
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if _, err := fmt.Sscan(string(b), &n); err != nil {
		return fmt.Errorf("invalid duration %s", b)
	}
	*d = Duration(n)
	return nil
}

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// HealthCheckType names a kind of health check.
type HealthCheckType string

// Health check kinds.
const (
	HealthCommand HealthCheckType = "COMMAND"
	HealthHTTP    HealthCheckType = "HTTP"
	HealthTCP     HealthCheckType = "TCP"
)

// HealthCheck is run by the agent against a running task. The task's
// health rides on its TASK_RUNNING updates; a task that fails
// ConsecutiveFailures checks in a row after its grace period is killed
// with reason REASON_TASK_UNHEALTHY.
type HealthCheck struct {
	Type HealthCheckType `json:"type"` // COMMAND, HTTP or TCP
	// Command is run (with `sh -c`) in the task's sandbox and environment
	// for COMMAND checks; exit 0 is healthy.
	Command string `json:"command,omitempty"`
	// PortIndex picks the task's port (PORT<index>) for HTTP and TCP
	// checks; Port, if set, is used instead.
	PortIndex int    `json:"port_index,omitempty"`
	Port      uint64 `json:"port,omitempty"` // a fixed port to check instead of PORT<PortIndex>
	// Path is the HTTP path (default "/"); 2xx and 3xx are healthy.
	Path string `json:"path,omitempty"`
	// Delay before the first check; Interval between checks; Timeout of
	// one check; GracePeriod during which failures do not count.
	Delay               Duration `json:"delay,omitempty"`
	Interval            Duration `json:"interval,omitempty"`             // between checks
	Timeout             Duration `json:"timeout,omitempty"`              // of one check; a check that takes longer fails
	GracePeriod         Duration `json:"grace_period,omitempty"`         // after the start, during which failures do not count
	ConsecutiveFailures int      `json:"consecutive_failures,omitempty"` // failures in a row after which the task is killed
}

// Validate checks a health check.
func (h HealthCheck) Validate() error {
	switch h.Type {
	case HealthCommand:
		if h.Command == "" {
			return fmt.Errorf("health_check: COMMAND needs a command")
		}
	case HealthHTTP, HealthTCP:
		if h.PortIndex < 0 || h.Port > 65535 {
			return fmt.Errorf("health_check: invalid port")
		}
	default:
		return fmt.Errorf("health_check: unknown type %q (want COMMAND, HTTP or TCP)", h.Type)
	}
	if h.Delay < 0 || h.Interval < 0 || h.Timeout < 0 || h.GracePeriod < 0 || h.ConsecutiveFailures < 0 {
		return fmt.Errorf("health_check: negative delay, interval, timeout, grace period or failure count")
	}
	return nil
}
