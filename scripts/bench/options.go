package bench

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/agora-cluster/agora/master"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Scenario names a benchmark.
type Scenario string

// Scenarios.
const (
	ScenarioOffers   Scenario = "offers"
	ScenarioLaunch   Scenario = "launch"
	ScenarioFailover Scenario = "failover"
	ScenarioScale    Scenario = "scale"
	ScenarioReal     Scenario = "real"
	ScenarioState    Scenario = "state"
)

// Scenarios lists every scenario, in the order the table prints them.
var Scenarios = []Scenario{ScenarioOffers, ScenarioLaunch, ScenarioFailover, ScenarioScale, ScenarioReal, ScenarioState}

// ErrInvalidOptions is wrapped by every error of [Options.Validate].
var ErrInvalidOptions = errors.New("bench: invalid options")

// AgentProcsAuto lets Run choose where agents run: in this process up to
// [MaxAgentsInProcess], otherwise in child processes of at most
// [AgentsPerProcess] agents each.
const AgentProcsAuto = -1

// Limits of one process. Each in-process agent costs three file
// descriptors (its NATS connection on both ends and its update log); the
// hard limit on this kind of machine is often 20,000.
const (
	MaxAgentsInProcess = 3000
	AgentsPerProcess   = 4000
)

// Options configure one benchmark run. Start from [DefaultOptions].
type Options struct {
	Scenario Scenario
	// Masters is 1 or 3 (in-process cluster only).
	Masters int
	// Agents is the number of agents the benchmark starts.
	Agents int
	// Frameworks is the number of benchmark frameworks (SDK drivers).
	Frameworks int
	// Tasks is the number of tasks to launch.
	Tasks int
	// AgentResources are each agent's resources.
	AgentResources wire.Resources
	// TaskResources are each task's resources.
	TaskResources wire.Resources
	// TaskDuration is how long a simulated task runs before it finishes;
	// TaskHang makes tasks run until killed instead.
	TaskDuration time.Duration
	TaskHang     bool

	// Samples is the number of offer-latency samples (offers).
	Samples int
	// Concurrency is the number of DECLINEs outstanding at once (offers)
	// or of ACCEPT calls in flight (launch, failover, scale).
	Concurrency int
	// Window bounds the tasks in flight (sent in an ACCEPT, not yet
	// TASK_RUNNING) across the frameworks; 0 means no bound. Without one,
	// a framework can accept far faster than agents' status updates are
	// handled.
	Window int
	// Failovers is how many times the leader is killed (failover).
	Failovers int
	// Rate is the launch rate in tasks/s (failover).
	Rate float64
	// Duration is the steady interval (scale), the load between two
	// kills (failover), or the longest each offer-latency phase and the
	// polled phase's wait for StateRequests may take (state).
	Duration time.Duration
	// Revives is the number of REVIVE→OFFERS probes (scale).
	Revives int
	// RealVia is how the real scenario launches: RealViaBatch or
	// RealViaSDK.
	RealVia string
	// PollState is the number of goroutines that GET the leader's
	// /api/v1/state in a loop while the scenario measures (offers,
	// scale), or while the state scenario measures offers under polling;
	// 0 is off.
	PollState int
	// StateRequests is the number of /api/v1/state requests of the state
	// scenario's sequential phase, and the fewest its pollers make.
	StateRequests int

	// NATSURLs and MastersHTTP attach to a running cluster instead of
	// starting one. MastersHTTP ("host:port") is used for the leader's
	// term and its /metrics.
	NATSURLs    []string
	MastersHTTP []string

	// AgentProcs is the number of child processes agents run in (0: in
	// this process; AgentProcsAuto: chosen by the number of agents).
	AgentProcs int
	// AgentNice, if above 0, starts the agent child processes with that
	// niceness (1-19, through nice(1)): the masters then get the CPU
	// first, as on machines of their own, while the simulated agents
	// share what is left.
	AgentNice int
	// Executable is the program started for agent child processes
	// (default: this one); it must understand `bench agents`.
	Executable string
	// Dir is where the run makes its temporary directory for the
	// masters' raft data ("": the system's temporary dir). The run
	// removes what it made.
	Dir string
	// AgentDir, if set, is where the run makes the temporary directory
	// for the agents' work dirs instead (e.g. /dev/shm, to keep the
	// agents' checkpoint fsyncs off the disk).
	AgentDir string
	// Timeout bounds the whole run.
	Timeout time.Duration
	// RaftTimeout, if set, is the in-process masters' raft heartbeat and
	// election timeout (production default: 300 ms); the leader lease is
	// half of it.
	RaftTimeout time.Duration
	// Fast shortens the in-process masters' raft and heartbeat timeouts
	// to those tests use (sdktest's Fast), instead of production ones.
	Fast bool
	// CPUProfile and MemProfile, if set, receive a CPU profile of the
	// measured phase and a heap profile taken at its end.
	CPUProfile string
	MemProfile string
	// PprofAddr, if set, serves net/http/pprof there for the whole run
	// (to profile setup, or a run that goes wrong).
	PprofAddr string
	// Logger receives the cluster's logs (default: none).
	Logger *slog.Logger
	// Progress, if set, receives a one-line progress display, rewritten
	// in place (for a terminal), or with ProgressLines timestamped lines
	// every two seconds (for a log).
	Progress      io.Writer
	ProgressLines bool

	// masterConfig, if set, adjusts the in-process masters' configuration
	// (tests).
	masterConfig func(*master.Config)
}

// DefaultOptions returns the sizes of the targets for a scenario.
func DefaultOptions(s Scenario) Options {
	o := Options{
		Scenario:       s,
		Masters:        1,
		Agents:         1000,
		Frameworks:     1,
		Tasks:          20000,
		AgentResources: wire.Resources{CPUs: 64, MemMB: 262144, DiskMB: 100000},
		TaskResources:  wire.Resources{CPUs: 0.01, MemMB: 32},
		TaskHang:       true,
		Samples:        2000,
		Concurrency:    8,
		Failovers:      5,
		Rate:           1000,
		Duration:       10 * time.Second,
		Revives:        5,
		RealVia:        RealViaBatch,
		AgentProcs:     AgentProcsAuto,
		Timeout:        30 * time.Minute,
	}
	switch s {
	case ScenarioOffers:
		o.Frameworks = 10
		o.Concurrency = 10
		o.AgentResources = wire.Resources{CPUs: 4, MemMB: 8192, DiskMB: 10000}
	case ScenarioFailover:
		o.Masters = 3
		o.Tasks = 0 // Rate × the load's duration
		o.TaskHang = false
		o.TaskDuration = 2 * time.Second
		o.Duration = 5 * time.Second
		o.AgentResources = wire.Resources{CPUs: 8, MemMB: 32768, DiskMB: 10000}
	case ScenarioScale:
		o.Agents = 10000
		o.Tasks = 100000
		o.AgentResources = wire.Resources{CPUs: 16, MemMB: 65536, DiskMB: 10000}
		o.Duration = 30 * time.Second
		o.Window = 5000
	case ScenarioState:
		o.Agents = 10000
		o.Tasks = 100000
		o.Frameworks = 10
		o.Concurrency = 10
		o.AgentResources = wire.Resources{CPUs: 16, MemMB: 65536, DiskMB: 10000}
		o.Window = 5000
		o.Duration = 2 * time.Minute
		o.PollState = 4
		o.StateRequests = 20
	case ScenarioReal:
		o.Agents = 1
		o.Tasks = 5000
		o.TaskHang = false
		o.AgentResources = wire.Resources{CPUs: 8, MemMB: 16384, DiskMB: 100000}
		o.TaskResources = wire.Resources{CPUs: 0.1, MemMB: 16}
	}
	return o
}

// attached reports whether the run uses a cluster it did not start.
func (o *Options) attached() bool { return len(o.NATSURLs) > 0 }

// Validate checks the options and names what is wrong.
func (o *Options) Validate() error {
	var errs []error
	known := false
	for _, s := range Scenarios {
		known = known || s == o.Scenario
	}
	if !known {
		errs = append(errs, fmt.Errorf("unknown scenario %q (want offers, launch, failover, scale, real or state)", o.Scenario))
	}
	if o.Masters != 1 && o.Masters != 3 {
		errs = append(errs, fmt.Errorf("masters: %d; want 1 or 3", o.Masters))
	}
	if o.Agents < 1 {
		errs = append(errs, errors.New("agents: want at least 1"))
	}
	if o.Frameworks < 1 {
		errs = append(errs, errors.New("frameworks: want at least 1"))
	}
	if o.Tasks < 0 || (o.Tasks == 0 && o.Scenario != ScenarioOffers && o.Scenario != ScenarioFailover) {
		errs = append(errs, errors.New("tasks: want at least 1"))
	}
	if o.Concurrency < 1 {
		errs = append(errs, errors.New("concurrency: want at least 1"))
	}
	if o.PollState < 0 || (o.PollState > 0 && o.Scenario != ScenarioOffers && o.Scenario != ScenarioScale && o.Scenario != ScenarioState) {
		errs = append(errs, errors.New("poll-state: want ≥ 0, and only with offers, scale or state"))
	}
	if o.Scenario == ScenarioState && (o.PollState < 1 || o.StateRequests < 1) {
		errs = append(errs, errors.New("state: want poll-state ≥ 1 and state-requests ≥ 1"))
	}
	if (o.Scenario == ScenarioOffers || o.Scenario == ScenarioState) && o.Samples < 1 {
		errs = append(errs, errors.New("samples: want at least 1"))
	}
	if o.Scenario == ScenarioFailover {
		if o.Masters != 3 {
			errs = append(errs, errors.New("failover needs --masters 3"))
		}
		if o.attached() {
			errs = append(errs, errors.New("failover kills the leader and so needs an in-process cluster (no --nats)"))
		}
		if o.Failovers < 1 || o.Rate <= 0 || o.Duration <= 0 || o.TaskHang {
			errs = append(errs, errors.New("failover: want failovers ≥ 1, rate > 0, duration > 0 and tasks that end"))
		}
	}
	if o.Scenario == ScenarioScale && o.Duration <= 0 {
		errs = append(errs, errors.New("scale: want a positive duration"))
	}
	if o.Scenario == ScenarioReal && o.RealVia != RealViaBatch && o.RealVia != RealViaSDK {
		errs = append(errs, fmt.Errorf("real-via %q: want batch or sdk", o.RealVia))
	}
	if o.Scenario == ScenarioReal && o.attached() {
		errs = append(errs, errors.New("real runs its own local agent; it needs an in-process cluster (no --nats)"))
	}
	if o.attached() && len(o.MastersHTTP) == 0 {
		errs = append(errs, errors.New("--nats needs --masters-http (for the leader's term and metrics)"))
	}
	if err := o.AgentResources.Validate(); err != nil || o.AgentResources.CPUs <= 0 || o.AgentResources.MemMB <= 0 {
		errs = append(errs, fmt.Errorf("agent resources %s: want cpus and mem", o.AgentResources))
	}
	if err := o.TaskResources.Validate(); err != nil || o.TaskResources.CPUs <= 0 || !o.AgentResources.Contains(o.TaskResources) {
		errs = append(errs, fmt.Errorf("task resources %s: want cpus, and no more than an agent has (%s)", o.TaskResources, o.AgentResources))
	}
	if o.AgentProcs < AgentProcsAuto {
		errs = append(errs, errors.New("agent-procs: want ≥ 0, or -1 for auto"))
	}
	if o.AgentNice < 0 || o.AgentNice > 19 {
		errs = append(errs, fmt.Errorf("agent-nice %d: want 0 to 19", o.AgentNice))
	} else if o.AgentNice > 0 && o.agentProcs() == 0 {
		errs = append(errs, errors.New("agent-nice: the agents run in this process; it needs agent child processes (--agent-procs)"))
	}
	if o.Scenario == ScenarioReal && o.AgentProcs > 0 {
		errs = append(errs, errors.New("real runs its agent in this process (agent-procs 0)"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidOptions, errors.Join(errs...))
	}
	return nil
}

// agentProcs resolves AgentProcsAuto.
func (o *Options) agentProcs() int {
	if o.Scenario == ScenarioReal {
		return 0
	}
	if o.AgentProcs != AgentProcsAuto {
		return o.AgentProcs
	}
	if o.Agents <= MaxAgentsInProcess {
		return 0
	}
	return (o.Agents + AgentsPerProcess - 1) / AgentsPerProcess
}

// tasksPerAgent is how many tasks fit on one agent.
func (o *Options) tasksPerAgent() int {
	return fitCount(o.AgentResources, o.TaskResources)
}

// fitCount is how many tasks of need fit into have.
func fitCount(have, need wire.Resources) int {
	n := 1 << 30
	for _, p := range [][2]float64{{have.CPUs, need.CPUs}, {have.MemMB, need.MemMB}, {have.DiskMB, need.DiskMB}} {
		if p[1] > 0 {
			// Scalars are kept to three decimals; so is the division.
			n = min(n, int((p[0]+1e-9)/p[1]))
		}
	}
	return n
}
