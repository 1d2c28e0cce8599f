package bench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/agora-cluster/agora/sdk/wire"
)

// Command is `agora bench`.
func Command() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "benchmark a cluster: offer latency, launch throughput, failover, scale, real tasks, the state API",
		Description: `Starts a cluster in this process (or attaches to one with --nats and
--masters-http), runs agents with the simulated executor and a benchmark
framework built on the SDK, and prints what it measured. Unset flags take
the scenario's defaults, the sizes of the performance targets:

  offers    1,000 agents, 10 frameworks, 2,000 samples of DECLINE → OFFERS
  launch    1,000 agents, 20,000 tasks: ACCEPT → TASK_RUNNING
  failover  3 masters, 1,000 agents, 1,000 tasks/s of 2 s tasks, 5 leader kills
  scale     10,000 agents (in child processes), 100,000 running tasks
  real      5,000 /bin/true tasks on one local agent through the batch framework
  state     10,000 agents, 100,000 running tasks: GET /api/v1/state latency and size,
            and offer latency without and with 4 pollers of /api/v1/state

Examples:
  agora bench --scenario offers
  agora bench --scenario launch --agents 1000 --tasks 50000 --output json
  agora bench --scenario scale --masters 3 --cpuprofile scale.pprof
  agora bench --scenario offers --poll-state 4`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "scenario", Aliases: []string{"s"}, Value: "launch", Usage: "offers, launch, failover, scale, real or state"},
			&cli.IntFlag{Name: "masters", Usage: "masters to start: 1 or 3 (default: 3 for failover, else 1)"},
			&cli.IntFlag{Name: "agents", Usage: "agents to start (default: the scenario's)"},
			&cli.IntFlag{Name: "frameworks", Usage: "benchmark frameworks (default: 10 for offers and state, else 1)"},
			&cli.IntFlag{Name: "tasks", Usage: "tasks to launch (failover: rate × load time unless set)"},
			&cli.StringFlag{Name: "agent-resources", Usage: `each agent's resources, e.g. "cpus:64;mem:262144;disk:100000"`},
			&cli.StringFlag{Name: "task-resources", Usage: `each task's resources, e.g. "cpus:0.01;mem:32"`},
			&cli.StringFlag{Name: "task-duration", Usage: `how long simulated tasks run: a duration, or "hang" (until killed)`},
			&cli.IntFlag{Name: "samples", Usage: "offer-latency samples (offers)"},
			&cli.IntFlag{Name: "concurrency", Usage: "DECLINEs outstanding (offers) or ACCEPTs in flight per framework"},
			&cli.IntFlag{Name: "window", Usage: "most tasks in flight (accepted, not yet RUNNING); 0: no bound (default: 5,000 for scale and state, else 0)"},
			&cli.IntFlag{Name: "failovers", Usage: "leader kills (failover)"},
			&cli.Float64Flag{Name: "rate", Usage: "launch rate in tasks/s (failover)"},
			&cli.DurationFlag{Name: "duration", Usage: "steady interval (scale), load between kills (failover), or the most each offer phase may take (state)"},
			&cli.IntFlag{Name: "revives", Usage: "REVIVE → OFFERS probes (scale)"},
			&cli.IntFlag{Name: "poll-state", Usage: "goroutines GETting the leader's /api/v1/state in a loop while offers or scale measure; state: pollers of its polled phase (default 4); 0: off"},
			&cli.IntFlag{Name: "state-requests", Usage: "state: sequential /api/v1/state requests, and the fewest the pollers make (default 20)"},
			&cli.StringFlag{Name: "real-via", Usage: "real: launch through the batch framework (batch) or the benchmark's SDK framework (sdk)"},
			&cli.DurationFlag{Name: "raft-timeout", Usage: "in-process masters' raft heartbeat, election and leader lease timeout (default: the master's, 300 ms, lease 250 ms)"},
			&cli.StringFlag{Name: "nats", Usage: "attach: NATS URL(s) of a running cluster, comma separated"},
			&cli.StringFlag{Name: "masters-http", Usage: "attach: the masters' HTTP addresses host:port, comma separated"},
			&cli.IntFlag{Name: "agent-procs", Value: AgentProcsAuto, Usage: "child processes to run agents in (0: this process; -1: auto, one per 4,000 agents above 3,000)"},
			&cli.IntFlag{Name: "agent-nice", Usage: "start the agent child processes at this niceness (1-19), so that the masters get the CPU first, as on machines of their own"},
			&cli.StringFlag{Name: "dir", Usage: "make the run's temporary dir (masters' raft data) here; removed afterwards"},
			&cli.StringFlag{Name: "agent-dir", Usage: "make the agents' temporary work dirs here instead (e.g. /dev/shm: agent checkpoint fsyncs off the disk)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "table", Usage: "table or json"},
			&cli.StringFlag{Name: "progress", Value: "auto", Usage: "progress on stderr: auto (on a terminal), always, lines (timestamped, for logs) or never"},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the measured phase here"},
			&cli.StringFlag{Name: "memprofile", Usage: "write a heap profile at the end of the measured phase here"},
			&cli.StringFlag{Name: "pprof-addr", Usage: "serve net/http/pprof here (host:port) during the run"},
			&cli.DurationFlag{Name: "timeout", Value: 30 * time.Minute, Usage: "bound the whole run"},
			&cli.StringFlag{Name: "log-level", Value: "off", Usage: "cluster logs on stderr: off, debug, info, warn or error"},
		},
		Subcommands: []*cli.Command{agentsCommand()},
		Action:      benchAction,
	}
}

func benchAction(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (flags come before them?)", c.Args().Slice())
	}
	o, err := optionsFromFlags(c)
	if err != nil {
		return err
	}
	out := c.String("output")
	if out != "table" && out != "json" {
		return fmt.Errorf("--output %q: want table or json", out)
	}
	switch p := c.String("progress"); p {
	case "auto":
		if IsTerminal(os.Stderr) {
			o.Progress = os.Stderr
		}
	case "always":
		o.Progress = os.Stderr
	case "lines":
		o.Progress, o.ProgressLines = os.Stderr, true
	case "never":
	default:
		return fmt.Errorf("--progress %q: want auto, always, lines or never", p)
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := Run(ctx, o)
	if err != nil {
		return err
	}
	w := c.App.Writer
	if out == "json" {
		return res.WriteJSON(w)
	}
	return res.WriteTable(w)
}

// optionsFromFlags starts from the scenario's defaults and applies the
// flags that were set.
func optionsFromFlags(c *cli.Context) (Options, error) {
	o := DefaultOptions(Scenario(c.String("scenario")))
	ints := map[string]*int{"masters": &o.Masters, "agents": &o.Agents, "frameworks": &o.Frameworks, "tasks": &o.Tasks,
		"samples": &o.Samples, "concurrency": &o.Concurrency, "failovers": &o.Failovers, "revives": &o.Revives,
		"agent-procs": &o.AgentProcs, "agent-nice": &o.AgentNice, "window": &o.Window, "poll-state": &o.PollState, "state-requests": &o.StateRequests}
	for name, p := range ints {
		if c.IsSet(name) {
			*p = c.Int(name)
		}
	}
	if c.IsSet("rate") {
		o.Rate = c.Float64("rate")
	}
	if c.IsSet("raft-timeout") {
		o.RaftTimeout = c.Duration("raft-timeout")
	}
	if c.IsSet("duration") {
		o.Duration = c.Duration("duration")
	}
	for name, p := range map[string]*wire.Resources{"agent-resources": &o.AgentResources, "task-resources": &o.TaskResources} {
		if c.IsSet(name) {
			r, err := wire.ParseResources(c.String(name))
			if err != nil {
				return o, fmt.Errorf("--%s: %w", name, err)
			}
			*p = r
		}
	}
	if c.IsSet("task-duration") {
		if v := c.String("task-duration"); v == "hang" {
			o.TaskHang, o.TaskDuration = true, 0
		} else {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return o, fmt.Errorf("--task-duration %q: want a duration or \"hang\"", v)
			}
			o.TaskHang, o.TaskDuration = false, d
		}
	}
	if c.IsSet("real-via") {
		o.RealVia = c.String("real-via")
	}
	if v := c.String("nats"); v != "" {
		o.NATSURLs = splitList(v)
	}
	if v := c.String("masters-http"); v != "" {
		o.MastersHTTP = splitList(v)
	}
	o.Dir, o.AgentDir = c.String("dir"), c.String("agent-dir")
	o.CPUProfile, o.MemProfile = c.String("cpuprofile"), c.String("memprofile")
	o.PprofAddr = c.String("pprof-addr")
	o.Timeout = c.Duration("timeout")
	log, err := newLogger(c.String("log-level"))
	if err != nil {
		return o, err
	}
	o.Logger = log
	if o.Scenario == ScenarioFailover && !c.IsSet("tasks") {
		o.Tasks = 0
	}
	return o, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// newLogger logs to stderr at level, or nowhere for "off".
func newLogger(level string) (*slog.Logger, error) {
	if level == "off" {
		return slog.New(slog.DiscardHandler), nil
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want off, debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

// agentsCommand is `agora bench agents`, which `agora bench` starts in
// child processes when one process cannot hold all the agents.
func agentsCommand() *cli.Command {
	return &cli.Command{
		Name:   "agents",
		Usage:  "run simulated agents for a benchmark (started by agora bench)",
		Hidden: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "nats", Required: true},
			&cli.IntFlag{Name: "count", Required: true},
			&cli.IntFlag{Name: "first"},
			&cli.StringFlag{Name: "resources", Required: true},
			&cli.StringFlag{Name: "dir", Required: true},
			&cli.StringFlag{Name: "log-level", Value: "off"},
		},
		Action: func(c *cli.Context) error {
			res, err := wire.ParseResources(c.String("resources"))
			if err != nil {
				return fmt.Errorf("--resources: %w", err)
			}
			log, err := newLogger(c.String("log-level"))
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			spec := agentSpec{natsURLs: splitList(c.String("nats")), dir: c.String("dir"), first: c.Int("first"),
				n: c.Int("count"), resources: res, simulated: true, log: log}
			return runAgentsChild(ctx, spec, os.Stdin, c.App.Writer)
		},
	}
}
