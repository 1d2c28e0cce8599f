package sdk

import (
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

// Task starts building a task with the given ID. Chain the setters and
// finish with Info, or hand the builder to [Pack] as a request.
//
//	sdk.Task("web-1").Shell("./server --port $PORT0").CPUs(0.5).Mem(128).Ports(1)
func Task(id string) *TaskBuilder {
	return &TaskBuilder{info: wire.TaskInfo{TaskID: wire.TaskID(id), Name: id}}
}

// TaskBuilder builds a wire.TaskInfo.
type TaskBuilder struct {
	info  wire.TaskInfo
	ports int
}

// Name sets a human-readable name (default: the ID).
func (b *TaskBuilder) Name(n string) *TaskBuilder { b.info.Name = n; return b }

// Shell runs cmd with `sh -c`.
func (b *TaskBuilder) Shell(cmd string) *TaskBuilder {
	b.info.Command = wire.CommandInfo{Value: cmd, Shell: true}
	return b
}

// Exec runs a program with arguments, without a shell.
func (b *TaskBuilder) Exec(program string, args ...string) *TaskBuilder {
	b.info.Command = wire.CommandInfo{Value: program, Args: args}
	return b
}

// CPUs sets the cpus the task needs.
func (b *TaskBuilder) CPUs(n float64) *TaskBuilder { b.info.Resources.CPUs = n; return b }

// Mem sets the memory the task needs, in MB.
func (b *TaskBuilder) Mem(mb float64) *TaskBuilder { b.info.Resources.MemMB = mb; return b }

// Disk sets the disk the task needs, in MB.
func (b *TaskBuilder) Disk(mb float64) *TaskBuilder { b.info.Resources.DiskMB = mb; return b }

// Ports asks for n ports, chosen from the offer when the task is placed;
// the task sees them as PORT0..PORTn-1 (and PORT = PORT0).
func (b *TaskBuilder) Ports(n int) *TaskBuilder { b.ports = n; return b }

// Env sets an environment variable.
func (b *TaskBuilder) Env(key, value string) *TaskBuilder {
	if b.info.Env == nil {
		b.info.Env = map[string]string{}
	}
	b.info.Env[key] = value
	return b
}

// Label sets a label.
func (b *TaskBuilder) Label(key, value string) *TaskBuilder {
	if b.info.Labels == nil {
		b.info.Labels = map[string]string{}
	}
	b.info.Labels[key] = value
	return b
}

// KillGrace sets the time between SIGTERM and SIGKILL when killed.
func (b *TaskBuilder) KillGrace(d time.Duration) *TaskBuilder {
	b.info.KillGrace = wire.Duration(d)
	return b
}

// Simulate makes the task a scripted one on agents that simulate tasks
// (see sdktest.Simulated): it ends after d with exitCode (0 finishes it,
// anything else fails it). Real agents ignore the script and run the
// command.
func (b *TaskBuilder) Simulate(d time.Duration, exitCode int) *TaskBuilder {
	sim := b.sim()
	sim.Duration, sim.ExitCode, sim.Hang = wire.Duration(d), exitCode, false
	return b
}

// SimulateHang makes a simulated task run until it is killed (a hung
// task, or a long-running service).
func (b *TaskBuilder) SimulateHang() *TaskBuilder {
	b.sim().Hang = true
	return b
}

// SimulateStartDelay makes a simulated task's launch take d (a slow fetch
// or sandbox setup), during which the agent reports TASK_STARTING. It
// combines with Simulate or SimulateHang.
func (b *TaskBuilder) SimulateStartDelay(d time.Duration) *TaskBuilder {
	b.sim().StartDelay = wire.Duration(d)
	return b
}

func (b *TaskBuilder) sim() *wire.SimBehavior {
	if b.info.Sim == nil {
		b.info.Sim = &wire.SimBehavior{}
	}
	return b.info.Sim
}

// Needs is what the task needs from an offer (its ports as a count).
func (b *TaskBuilder) Needs() (wire.Resources, int) { return b.info.Resources, b.ports }

// Info returns the task as it is, without an agent or ports. The result
// shares nothing with the builder but its Env and Labels maps.
func (b *TaskBuilder) Info() wire.TaskInfo {
	t := b.info
	if t.Sim != nil {
		sim := *t.Sim
		t.Sim = &sim
	}
	return t
}

// On returns the task placed on an offer's agent with the given ports.
func (b *TaskBuilder) On(agent wire.AgentID, ports wire.Ranges) wire.TaskInfo {
	t := b.Info()
	t.AgentID = agent
	t.Resources.Ports = ports
	if t.Env != nil {
		env := make(map[string]string, len(t.Env))
		for k, v := range t.Env {
			env[k] = v
		}
		t.Env = env
	}
	return t
}
