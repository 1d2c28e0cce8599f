package controller

import (
	"maps"

	"github.com/agora-cluster/agora/sdk/wire"
)

// counters are the controller's event counts since it was built, for
// metrics. They are guarded by c.mu.
type counters struct {
	offersReceived  uint64
	offersAccepted  uint64
	offersDeclined  uint64
	offersRescinded uint64
	updates         map[wire.TaskState]uint64
	tasksLaunched   uint64
	// ended counts instances by the state their task ended in.
	ended          map[wire.TaskState]uint64
	deployments    map[DeploymentState]uint64
	restarts       uint64
	healthFailures uint64
}

func newCounters() counters {
	return counters{
		updates:     map[wire.TaskState]uint64{},
		ended:       map[wire.TaskState]uint64{},
		deployments: map[DeploymentState]uint64{},
	}
}

// InstanceKey groups instances in [Stats.Instances].
type InstanceKey struct {
	State wire.TaskState
	// Health is "healthy", "unhealthy" or "unknown"; an instance of an
	// app without health checks is healthy while it runs.
	Health string
}

// Stats is a snapshot of the controller for metrics: its current state
// and its event counts since it was built.
type Stats struct {
	Apps int
	// Instances counts the instances the controller keeps (those whose
	// task has not ended), by task state and health.
	Instances map[InstanceKey]int
	// DeploymentsActive counts running deployments.
	DeploymentsActive int
	// Tasks counts tasks by task state: a non-terminal state counts the
	// instances now in it, a terminal one (and TASK_UNKNOWN) the
	// instances whose task ended in it since the controller was built.
	Tasks map[wire.TaskState]int

	OffersReceived  uint64
	OffersAccepted  uint64
	OffersDeclined  uint64
	OffersRescinded uint64
	// Updates counts status updates received, by state.
	Updates map[wire.TaskState]uint64
	// TasksLaunched counts tasks in launches the master accepted.
	TasksLaunched uint64
	// DeploymentsFinished counts deployments that ended, by final state.
	DeploymentsFinished map[DeploymentState]uint64
	// Restarts counts instances that ended without the framework asking
	// (their task failed, exited or was lost, or they were killed for
	// failing health checks) and are replaced.
	Restarts uint64
	// HealthCheckFailures counts failed probes that counted against an
	// instance (not those in a check's grace period).
	HealthCheckFailures uint64
}

// Stats returns a snapshot of the controller's state and counts. It holds
// the controller's lock only to copy them.
func (c *Controller) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Stats{
		Apps:                len(c.apps),
		Instances:           map[InstanceKey]int{},
		Tasks:               map[wire.TaskState]int{},
		OffersReceived:      c.count.offersReceived,
		OffersAccepted:      c.count.offersAccepted,
		OffersDeclined:      c.count.offersDeclined,
		OffersRescinded:     c.count.offersRescinded,
		Updates:             maps.Clone(c.count.updates),
		TasksLaunched:       c.count.tasksLaunched,
		DeploymentsFinished: maps.Clone(c.count.deployments),
		Restarts:            c.count.restarts,
		HealthCheckFailures: c.count.healthFailures,
	}
	for _, a := range c.apps {
		if a.running() != nil {
			s.DeploymentsActive++
		}
	}
	for _, inst := range c.instances {
		h := inst.Health
		if !inst.HasChecks && inst.State == wire.TaskRunning {
			h = HealthHealthy
		}
		if h == HealthUnknown {
			h = "unknown"
		}
		s.Instances[InstanceKey{State: inst.State, Health: string(h)}]++
		s.Tasks[inst.State]++
	}
	for st, n := range c.count.ended {
		s.Tasks[st] += int(n)
	}
	return s
}
