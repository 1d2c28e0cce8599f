package controller

import (
	"time"

	"github.com/agora-cluster/agora/framework/service/spec"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Health is an instance's health as the framework's checks see it.
type Health string

// Healths. An instance of an app without health checks is healthy once
// it runs.
const (
	HealthUnknown   Health = ""
	HealthHealthy   Health = "healthy"
	HealthUnhealthy Health = "unhealthy"
)

// Instance is one task of an app, as the framework records it. Instances
// are removed from the record when their task ends.
type Instance struct {
	ID  wire.TaskID `json:"id"`
	App string      `json:"app"`
	// Config is the version whose config the instance runs (see
	// [Version.Config]).
	Config     int               `json:"config"`
	AgentID    wire.AgentID      `json:"agent_id"`
	Hostname   string            `json:"hostname"`
	Attributes map[string]string `json:"attributes,omitempty"`
	// Ports are the instance's ports in the app spec's order.
	Ports     []uint64       `json:"ports,omitempty"`
	State     wire.TaskState `json:"state"`
	Message   string         `json:"message,omitempty"`
	Health    Health         `json:"health,omitempty"`
	HasChecks bool           `json:"has_checks,omitempty"`
	// AgentHealthy is the last result of the check the agent runs (the
	// COMMAND check), as its updates reported it. It is kept because the
	// agent reports only changes: a restarted framework starts from it.
	AgentHealthy *bool     `json:"agent_healthy,omitempty"`
	LaunchedAt   time.Time `json:"launched_at"`
	// RunningAt is when the instance was first seen running.
	RunningAt    time.Time `json:"running_at,omitzero"`
	HealthySince time.Time `json:"healthy_since,omitzero"`
	// UnreachableAt is when its agent became unreachable.
	UnreachableAt time.Time `json:"unreachable_at,omitzero"`
	// Inactive instances were unreachable for inactive_after and have been
	// replaced; they no longer count.
	Inactive bool `json:"inactive,omitempty"`
	// Killing is set once the framework has asked for the kill.
	Killing    bool      `json:"killing,omitempty"`
	KillReason string    `json:"kill_reason,omitempty"`
	KillSentAt time.Time `json:"kill_sent_at,omitzero"`
	// KillIsFailure makes the kill count for restart backoff (a health
	// check killed it).
	KillIsFailure bool `json:"kill_is_failure,omitempty"`
}

// active reports whether the instance counts toward the app's instances.
func (i *Instance) active() bool { return !i.Killing && !i.Inactive }

// healthy reports whether the instance runs and passes its checks.
func (i *Instance) healthy() bool {
	return i.State == wire.TaskRunning && i.active() && (!i.HasChecks || i.Health == HealthHealthy)
}

// Version is one version of an app's spec. Every deploy, scale, restart
// and rollback makes a new version.
type Version struct {
	Version int `json:"version"`
	// Config is the number of the first version with the same config
	// (everything but instances, and the same restart generation):
	// instances of that config need no restart to serve this version.
	Config  int       `json:"config"`
	Hash    string    `json:"hash"`
	Restart int       `json:"restart"`
	Cause   string    `json:"cause"`
	Created time.Time `json:"created"`
	Spec    spec.App  `json:"spec"`
}

// DeploymentState says where a deployment is.
type DeploymentState string

// Deployment states.
const (
	DeploymentRunning    DeploymentState = "running"
	DeploymentSucceeded  DeploymentState = "succeeded"
	DeploymentFailed     DeploymentState = "failed"
	DeploymentRolledBack DeploymentState = "rolled_back"
	DeploymentSuperseded DeploymentState = "superseded"
	DeploymentCancelled  DeploymentState = "cancelled"
)

// Done reports whether the state is final.
func (s DeploymentState) Done() bool { return s != DeploymentRunning }

// Deployment kinds.
const (
	KindDeploy       = "deploy"
	KindScale        = "scale"
	KindRestart      = "restart"
	KindRollback     = "rollback"
	KindAutoRollback = "auto_rollback"
)

// Deployment moves an app to a version.
type Deployment struct {
	ID          string          `json:"id"`
	App         string          `json:"app"`
	Kind        string          `json:"kind"`
	FromVersion int             `json:"from_version"`
	ToVersion   int             `json:"to_version"`
	Instances   int             `json:"instances"`
	State       DeploymentState `json:"state"`
	Started     time.Time       `json:"started"`
	Finished    time.Time       `json:"finished,omitzero"`
	// Deadline, if set, is when the deployment fails (and rolls back
	// when AutoRollback).
	Deadline     time.Time `json:"deadline,omitzero"`
	AutoRollback bool      `json:"auto_rollback,omitempty"`
	// Waiting says what the deployment waits for now: offers (and why
	// the offers seen do not fit), health, old instances to stop.
	Waiting string `json:"waiting,omitempty"`
	// Stalled is set when the deployment made no progress for the
	// controller's StallAfter; Waiting says why.
	Stalled bool `json:"stalled,omitempty"`
	// RolledBackBy names the deployment that rolled this one back.
	RolledBackBy string `json:"rolled_back_by,omitempty"`
	Message      string `json:"message,omitempty"`
	Steps        []Step `json:"steps"`

	progressKey  string
	lastProgress time.Time
}

// Step is one thing a deployment did.
type Step struct {
	Time    time.Time `json:"time"`
	Message string    `json:"message"`
}

// maxSteps bounds a deployment's step log.
const maxSteps = 200

// appRecord is an app's persisted head.
type appRecord struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
	Config  int    `json:"config"`
	// Stable is the last version a deployment reached (0: none yet).
	Stable   int       `json:"stable"`
	Deleting bool      `json:"deleting,omitempty"`
	Created  time.Time `json:"created"`
}

// AppStatus is an app as the API shows it.
type AppStatus struct {
	ID       string `json:"id"`
	Version  int    `json:"version"`
	Config   int    `json:"config"`
	Stable   int    `json:"stable"`
	Deleting bool   `json:"deleting,omitempty"`
	// Instances is the number wanted; Staged, Running and Healthy count
	// active instances.
	Instances int    `json:"instances"`
	Staged    int    `json:"staged"`
	Running   int    `json:"running"`
	Healthy   int    `json:"healthy"`
	Waiting   string `json:"waiting,omitempty"`
	// Backoff is set while relaunches are delayed.
	Backoff    *BackoffStatus `json:"backoff,omitempty"`
	Deployment *Deployment    `json:"deployment,omitempty"`
	Tasks      []Instance     `json:"tasks"`
	// Ended are the most recently ended instances, newest first.
	Ended []Instance `json:"ended,omitempty"`
	Spec  spec.App   `json:"spec"`
}

// BackoffStatus is an app's restart backoff.
type BackoffStatus struct {
	Failures int       `json:"failures"`
	Until    time.Time `json:"until"`
}

// Endpoint is where a healthy instance can be reached.
type Endpoint struct {
	Instance wire.TaskID `json:"instance"`
	// Host is the agent's hostname.
	Host string `json:"host"`
	// Address is host:port of the instance's first port, with the host
	// the framework reaches the agent at; empty for apps without ports.
	Address string   `json:"address,omitempty"`
	Ports   []uint64 `json:"ports,omitempty"`
}

// DeployResult answers Deploy, Scale, Restart and Rollback.
type DeployResult struct {
	App     string `json:"app"`
	Version int    `json:"version"`
	// Deployment is the ID of the deployment started, or of the one
	// still running when nothing changed.
	Deployment string `json:"deployment,omitempty"`
	NoChange   bool   `json:"no_change,omitempty"`
}
