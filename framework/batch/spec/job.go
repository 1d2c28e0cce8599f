package spec

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/agora-cluster/agora/sdk/constraint"
)

// Job is one batch job. The zero values of optional fields mean their
// defaults; [Job.WithDefaults] fills them in.
type Job struct {
	// Name identifies the job: lower-case letters, digits and '-', starting
	// with a letter, at most 63 characters.
	Name string `json:"name"`
	// Command is run with `sh -c`. Exactly one of Command and Args is set.
	Command string `json:"command,omitempty"`
	// Args is a program and its arguments, run without a shell.
	Args []string `json:"args,omitempty"`
	// Env is added to each task's environment.
	Env map[string]string `json:"env,omitempty"`
	// Resources is what each task needs.
	Resources Resources `json:"resources"`
	// Instances is how many tasks one run has (default 1).
	Instances int `json:"instances"`
	// Parallelism is how many of a run's tasks run at once (default: all).
	Parallelism int `json:"parallelism"`
	// Retries says how often a failed task is tried again.
	Retries Retries `json:"retries"`
	// Timeout bounds each task attempt and the whole run.
	Timeout Timeout `json:"timeout"`
	// KillGrace is the time between SIGTERM and SIGKILL when a task is
	// killed (default: the agent's).
	KillGrace Duration `json:"kill_grace,omitempty"`
	// Constraints restrict the agents tasks may run on.
	Constraints []Constraint `json:"constraints,omitempty"`
	// DependsOn names jobs whose latest runs must have succeeded before
	// this job runs; a run of this job starts when they have.
	DependsOn []string `json:"depends_on,omitempty"`
	// Schedule starts runs on a cron schedule.
	Schedule *Schedule `json:"schedule,omitempty"`
	// Labels are attached to every task.
	Labels map[string]string `json:"labels,omitempty"`
	// Simulate scripts the tasks' outcome on agents that simulate tasks
	// (test clusters and benchmarks); real agents refuse such tasks.
	Simulate *Simulate `json:"simulate,omitempty"`
}

// Resources is what one task needs.
type Resources struct {
	CPUs   float64 `json:"cpus"`
	MemMB  float64 `json:"mem"`
	DiskMB float64 `json:"disk,omitempty"`
	// Ports is how many ports a task gets (as PORT0..PORTn-1).
	Ports int `json:"ports,omitempty"`
}

// Retries says how failed tasks are retried: a task that fails is tried
// again up to Limit more times, waiting Backoff, then twice as long each
// time, but never more than MaxBackoff. Tasks lost with their agent are
// retried without counting against Limit.
type Retries struct {
	Limit      int      `json:"limit"`
	Backoff    Duration `json:"backoff,omitempty"`
	MaxBackoff Duration `json:"max_backoff,omitempty"`
}

// Timeout bounds a task attempt and a run; zero means no bound. A task
// that runs out of time is killed and counts as failed (and may be
// retried); a run that runs out of time is killed and fails.
type Timeout struct {
	Task Duration `json:"task,omitempty"`
	Run  Duration `json:"run,omitempty"`
}

// Operator is a constraint operator.
type Operator string

// Constraint operators. EQ, NEQ and EXISTS are the batch framework's own;
// the others are those of package sdk/constraint (as in Marathon), shared
// with the service framework.
const (
	// OpEq: the attribute equals Value.
	OpEq Operator = "EQ"
	// OpNeq: the attribute is missing or differs from Value.
	OpNeq Operator = "NEQ"
	// OpExists: the agent has the attribute.
	OpExists Operator = "EXISTS"
	// OpLike: the attribute matches the regular expression Value (whole).
	OpLike = Operator(constraint.Like)
	// OpUnlike: the attribute is missing or does not match Value.
	OpUnlike = Operator(constraint.Unlike)
	// OpUnique: no two active tasks of a run share the attribute's value.
	OpUnique = Operator(constraint.Unique)
	// OpMaxPer: at most Value active tasks of a run per attribute value.
	OpMaxPer = Operator(constraint.MaxPer)
	// OpCluster: all of a run's tasks on agents with the same value
	// (Value, or the first task's).
	OpCluster = Operator(constraint.Cluster)
	// OpGroupBy: a run's tasks spread evenly over the attribute's values
	// (Value: how many values to expect).
	OpGroupBy = Operator(constraint.GroupBy)
)

// Operators lists every operator, for messages.
const Operators = "EQ, NEQ, EXISTS, LIKE, UNLIKE, UNIQUE, MAX_PER, CLUSTER or GROUP_BY"

// Constraint restricts placement by an agent attribute. The attribute
// "hostname" is the agent's host name.
type Constraint struct {
	Attribute string   `json:"attribute"`
	Operator  Operator `json:"operator"`
	Value     string   `json:"value,omitempty"`
}

// Shared returns the constraint as an sdk/constraint one, if its
// operator is one of that package's.
func (c Constraint) Shared() (constraint.Constraint, bool) {
	switch c.Operator {
	case OpEq, OpNeq, OpExists:
		return constraint.Constraint{}, false
	}
	return constraint.Constraint{Field: c.Attribute, Operator: constraint.Operator(c.Operator), Value: c.Value}, true
}

// ConcurrencyPolicy says what a scheduled start does while an earlier
// run of the job is still active.
type ConcurrencyPolicy string

// Concurrency policies.
const (
	// Allow starts the new run alongside the active ones.
	Allow ConcurrencyPolicy = "ALLOW"
	// Forbid skips the new run (it is recorded as SKIPPED).
	Forbid ConcurrencyPolicy = "FORBID"
	// Replace kills the active runs and starts the new one.
	Replace ConcurrencyPolicy = "REPLACE"
)

// Schedule starts runs on a cron schedule.
type Schedule struct {
	// Cron is a standard 5-field cron expression ("0 3 * * *") or a
	// descriptor ("@hourly", "@every 10m").
	Cron string `json:"cron"`
	// Timezone is an IANA zone ("Europe/Berlin"; default UTC) in which
	// Cron is read.
	Timezone string `json:"timezone,omitempty"`
	// ConcurrencyPolicy applies to scheduled starts (default ALLOW).
	ConcurrencyPolicy ConcurrencyPolicy `json:"concurrency_policy,omitempty"`
	// StartingDeadline is how late a scheduled start may still happen,
	// e.g. after the framework was down (default 1m). Later ones are
	// recorded as MISSED.
	StartingDeadline Duration `json:"starting_deadline,omitempty"`
}

// Simulate scripts a simulated task.
type Simulate struct {
	Duration Duration `json:"duration,omitempty"`
	ExitCode int      `json:"exit_code,omitempty"`
	Hang     bool     `json:"hang,omitempty"`
}

// Defaults.
const (
	DefaultCPUs             = 0.1
	DefaultMemMB            = 32
	DefaultBackoff          = Duration(time.Second)
	DefaultMaxBackoff       = Duration(5 * time.Minute)
	DefaultStartingDeadline = Duration(time.Minute)
)

// WithDefaults returns j with every unset optional field at its default.
func (j Job) WithDefaults() Job {
	if j.Resources.CPUs == 0 {
		j.Resources.CPUs = DefaultCPUs
	}
	if j.Resources.MemMB == 0 {
		j.Resources.MemMB = DefaultMemMB
	}
	if j.Instances == 0 {
		j.Instances = 1
	}
	if j.Parallelism == 0 {
		j.Parallelism = j.Instances
	}
	if j.Retries.Backoff == 0 {
		j.Retries.Backoff = DefaultBackoff
	}
	if j.Retries.MaxBackoff == 0 {
		j.Retries.MaxBackoff = max(DefaultMaxBackoff, j.Retries.Backoff)
	}
	if j.Schedule != nil {
		s := *j.Schedule
		if s.Timezone == "" {
			s.Timezone = "UTC"
		}
		if s.ConcurrencyPolicy == "" {
			s.ConcurrencyPolicy = Allow
		}
		if s.StartingDeadline == 0 {
			s.StartingDeadline = DefaultStartingDeadline
		}
		j.Schedule = &s
	}
	return j
}

// BackoffFor returns how long to wait before retrying after the n-th
// failure (n ≥ 1): Backoff·2^(n-1), at most MaxBackoff.
func (r Retries) BackoffFor(n int) time.Duration {
	d := r.Backoff.D()
	for i := 1; i < n && d < r.MaxBackoff.D(); i++ {
		d *= 2
	}
	return min(d, r.MaxBackoff.D())
}

// Duration is a time.Duration written as a Go duration string ("90s",
// "5m", "1h30m").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON implements json.Unmarshaler. It accepts a duration string
// or integer nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("invalid duration %s", b)
	}
	*d = Duration(n)
	return nil
}
