// Package workload is the client side of the chaos harness: the process
// that runs inside its own network namespace next to the cluster and
// drives and observes it while faults are injected.
//
// It runs two frameworks written against the public SDK (a batch framework
// of short tasks and a service framework of long-running instances), a
// NATS tap that records the term and sender of every master message,
// linearizability clients that read and write the registry (roles over
// HTTP, framework subscribe/teardown over NATS), a sampler that checks the
// agents' resource accounting, and a control server on a Unix socket
// through which the harness (outside every namespace) steers it and reaches
// the masters' HTTP APIs.
//
// Everything it learns goes into a [Record], which the harness checks.
package workload

import (
	"time"

	"github.com/agora-cluster/agora/scripts/lincheck"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Record is everything the workload saw. Times are nanoseconds since Start.
type Record struct {
	Start      time.Time         `json:"start"`
	Frameworks []FrameworkRecord `json:"frameworks"`
	// Terms aggregates master-sent messages by observer, term, sender and
	// type. Observers: "tap/<master>" (a subscriber on one master's NATS
	// server, on "<prefix>.>" and "_INBOX.>") and "fw/<name>" (a framework's
	// own event subject).
	Terms []TermSeen `json:"terms"`
	// Launches are the LAUNCH messages the tap saw, once each.
	Launches []LaunchSeen `json:"launches"`
	// Leaders are the leader announcements, first sighting per term and name.
	Leaders []LeaderSeen `json:"leaders"`
	// Lin is the history of registry operations.
	Lin []lincheck.Op `json:"lin"`
	// Samples counts the resource-accounting samples taken during the run;
	// AllocViolations lists those where offered + used exceeded an
	// agent's total or something was negative.
	Samples         int      `json:"samples"`
	AllocViolations []string `json:"alloc_violations,omitempty"`
	Errors          []string `json:"errors,omitempty"`
}

// FrameworkRecord is what one framework did and was told.
type FrameworkRecord struct {
	ID   wire.FrameworkID `json:"id"`
	Name string           `json:"name"`
	// Mode is "batch" or "service".
	Mode          string         `json:"mode"`
	Subscriptions []Subscription `json:"subscriptions"`
	Disconnects   int            `json:"disconnects"`
	Tasks         []TaskRecord   `json:"tasks"`
	Errors        []string       `json:"errors,omitempty"`
}

// Subscription is one SUBSCRIBED the framework got.
type Subscription struct {
	At     int64  `json:"at"`
	Term   uint64 `json:"term"`
	Leader string `json:"leader"`
}

// Accept outcomes of a task.
const (
	AcceptLaunched = "launched" // the master said it launched the task
	AcceptRefused  = "refused"  // the master refused the call or the task
	AcceptUnknown  = "unknown"  // no answer: it may or may not have launched
)

// TaskRecord is one task attempt (a task ID is never reused).
type TaskRecord struct {
	ID    wire.TaskID  `json:"id"`
	Agent wire.AgentID `json:"agent"`
	// Issued is when the framework sent the ACCEPT that carried the task.
	Issued int64 `json:"issued"`
	// Accept is AcceptLaunched, AcceptRefused or AcceptUnknown; AcceptErr
	// is the error of a refused or unanswered call.
	Accept    string `json:"accept"`
	AcceptErr string `json:"accept_err,omitempty"`
	// ExitCode is what a batch task was told to exit with (-1: a service
	// instance, which runs until killed).
	ExitCode int `json:"exit_code"`
	// Kills counts the KILL calls the framework made for it.
	Kills   int          `json:"kills,omitempty"`
	Updates []UpdateSeen `json:"updates"`
}

// UpdateSeen is one status update delivered to the framework.
type UpdateSeen struct {
	At       int64          `json:"at"`
	State    wire.TaskState `json:"state"`
	Reason   wire.Reason    `json:"reason,omitempty"`
	Source   wire.Source    `json:"source,omitempty"`
	Message  string         `json:"message,omitempty"`
	ExitCode *int           `json:"exit_code,omitempty"`
}

// TermSeen aggregates messages from one sender in one term.
type TermSeen struct {
	Observer string    `json:"observer"`
	Term     uint64    `json:"term"`
	From     string    `json:"from"`
	Type     wire.Type `json:"type"`
	Count    int       `json:"count"`
	First    int64     `json:"first"`
	Last     int64     `json:"last"`
}

// LaunchSeen is one LAUNCH message.
type LaunchSeen struct {
	At        int64            `json:"at"`
	Term      uint64           `json:"term"`
	From      string           `json:"from"`
	Agent     string           `json:"agent"`
	Framework wire.FrameworkID `json:"framework"`
	Tasks     []wire.TaskID    `json:"tasks"`
}

// LeaderSeen is the first announcement of a leader in a term.
type LeaderSeen struct {
	At   int64  `json:"at"`
	Term uint64 `json:"term"`
	Name string `json:"name"`
}

// Status is what GET /status on the control socket answers.
type Status struct {
	Draining bool `json:"draining"`
	// Open counts, per framework, the tasks without a final answer yet.
	Open     map[string]int `json:"open"`
	Issued   map[string]int `json:"issued"`
	Finished map[string]int `json:"finished"`
	LinOps   int            `json:"lin_ops"`
	Samples  int            `json:"samples"`
	// Subscribed says whether each framework is subscribed now.
	Subscribed map[string]bool `json:"subscribed"`
}
