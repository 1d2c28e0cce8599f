package chaos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/agora-cluster/agora/scripts/chaos/workload"
	"github.com/agora-cluster/agora/scripts/lincheck"
)

// WorkloadEnv names the environment variable that turns a harness binary
// into the workload process: it holds the path of its configuration.
const WorkloadEnv = "AGORA_CHAOS_WORKLOAD"

// WorkloadMain runs the workload and exits if this process was started as
// the workload (see WorkloadEnv); otherwise it returns at once. Call it
// first thing in main or TestMain.
func WorkloadMain() {
	path := os.Getenv(WorkloadEnv)
	if path == "" {
		return
	}
	cfg, err := workload.LoadConfig(path)
	if err == nil {
		err = workload.Run(context.Background(), cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos workload:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Options configure a run.
type Options struct {
	// Seed fixes the fault schedule and the workload's choices.
	Seed int64
	// Duration is how long faults are injected (at least one round of
	// every fault kind runs regardless).
	Duration time.Duration
	// Dir holds everything of the run: logs, data dirs, the ledger, the
	// record and the report. Empty: a new temporary directory.
	Dir string
	// AgoraBin is the agora binary; empty: built from RepoRoot.
	AgoraBin string
	// RepoRoot is the module root (default: found from the working
	// directory).
	RepoRoot string
	// WorkloadExe is the program run as the workload (default: this
	// executable, which must call WorkloadMain).
	WorkloadExe string
	Logger      *slog.Logger
}

// Report is the outcome of a run.
type Report struct {
	Seed       int64         `json:"seed"`
	RunID      string        `json:"run_id"`
	Dir        string        `json:"dir"`
	Started    time.Time     `json:"started"`
	Elapsed    time.Duration `json:"elapsed"`
	FaultPhase time.Duration `json:"fault_phase"`
	// WorkloadStart is time zero of the workload's record (task and
	// update times are relative to it).
	WorkloadStart time.Time         `json:"workload_start"`
	Faults        []Event           `json:"faults"`
	FaultCounts   map[FaultKind]int `json:"fault_counts"`
	// SlowRecoveries counts faults after which the cluster was not whole
	// again within the recovery timeout.
	SlowRecoveries int     `json:"slow_recoveries"`
	Final          Final   `json:"final"`
	Verdict        Verdict `json:"verdict"`
}

// OK reports whether every check passed.
func (r *Report) OK() bool { return r.Verdict.OK() }

// FrameworkReadStaleness is how stale GET /api/v1/frameworks may be: the
// master serves it from a state view rebuilt at most every 100 ms
// (stateTTL in master/http.go). Role reads go to the registry and are
// checked strictly; the strict verdict on framework reads is reported too.
const FrameworkReadStaleness = 100 * time.Millisecond

// recoveryTimeout bounds the wait for a whole cluster after a fault.
const recoveryTimeout = 45 * time.Second

// Run builds the cluster, runs the workload under the fault schedule,
// heals, drains, checks, and removes every namespace and process. It
// returns an error when the run could not be carried out; check
// Report.OK for the verdict.
func Run(ctx context.Context, opts Options) (rep *Report, err error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if err := Available(); err != nil {
		return nil, err
	}
	CleanupStale(log)
	var sfx [2]byte
	_, _ = rand.Read(sfx[:])
	rep = &Report{Seed: opts.Seed, RunID: fmt.Sprintf("ch%d-%s", os.Getpid(), hex.EncodeToString(sfx[:])), Started: time.Now(), FaultCounts: map[FaultKind]int{}}
	if rep.Dir = opts.Dir; rep.Dir == "" {
		if rep.Dir, err = os.MkdirTemp("", "agora-chaos-"); err != nil {
			return nil, fmt.Errorf("chaos: %w", err)
		}
	}
	if err := os.MkdirAll(rep.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	bin := opts.AgoraBin
	if bin == "" {
		if bin, err = buildAgora(ctx, opts.RepoRoot, rep.Dir); err != nil {
			return nil, err
		}
	}
	workExe := opts.WorkloadExe
	if workExe == "" {
		if workExe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("chaos: %w", err)
		}
	}
	n, err := NewNetwork(ctx, "10.77.0", nodeOctets(), log)
	if err != nil {
		return nil, err
	}
	defer n.Destroy()
	c, err := newCluster(rep.Dir, rep.RunID, bin, workExe, n, log)
	if err != nil {
		return nil, err
	}
	defer func() {
		c.Stop()
		n.Destroy()
		removeCgroups(rep.RunID, log)
		rep.Elapsed = time.Since(rep.Started)
		if b, jerr := json.MarshalIndent(rep, "", " "); jerr == nil {
			_ = os.WriteFile(filepath.Join(rep.Dir, "report.json"), b, 0o644)
		}
	}()
	if err := c.run(ctx, opts, rep); err != nil {
		return rep, err
	}
	return rep, nil
}

func (c *Cluster) run(ctx context.Context, opts Options, rep *Report) error {
	log := c.log
	cfg := c.workloadConfig(opts.Seed)
	b, err := json.MarshalIndent(cfg, "", " ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.dir, "workload.json"), b, 0o644); err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	for _, m := range masterNames {
		if err := c.masters[m].Start(); err != nil {
			return err
		}
	}
	if err := c.work.Start(); err != nil {
		return err
	}
	if err := waitFor(ctx, 30*time.Second, func() error { return c.control(ctx, "GET", "/status", nil) }); err != nil {
		return fmt.Errorf("chaos: workload did not come up: %w", err)
	}
	if err := waitFor(ctx, 60*time.Second, func() error { _, _, err := c.Leader(ctx); return err }); err != nil {
		return fmt.Errorf("chaos: no leader elected: %w", err)
	}
	for _, a := range agentNames {
		if err := c.agents[a].Start(); err != nil {
			return err
		}
	}
	if err := c.WaitHealthy(ctx, 60*time.Second); err != nil {
		return err
	}
	if err := c.control(ctx, "POST", "/start", nil); err != nil {
		return err
	}
	// Warm up: both frameworks subscribed and some batch work done.
	if err := waitFor(ctx, 60*time.Second, func() error {
		var st workload.Status
		if err := c.control(ctx, "GET", "/status", &st); err != nil {
			return err
		}
		if !st.Subscribed["batch"] || !st.Subscribed["service"] || st.Finished["batch"] < 4 {
			return fmt.Errorf("warming up: %+v", st)
		}
		return nil
	}); err != nil {
		return err
	}
	log.Info("cluster up; injecting faults", "seed", opts.Seed, "for", opts.Duration, "dir", c.dir)

	start := time.Now()
	sched := NewSchedule(opts.Seed)
	for i := 0; ctx.Err() == nil && (time.Since(start) < opts.Duration || i < len(AllFaults)); i++ {
		f := sched.Next()
		ev := c.inject(ctx, f, rep.Started)
		rep.Faults = append(rep.Faults, ev)
		rep.FaultCounts[f.Kind]++
		if ev.Recovered == 0 {
			rep.SlowRecoveries++
		}
		log.Info("fault", "fault", f.String(), "target", ev.Target, "leader", ev.Leader, "term", ev.Term,
			"recovered_after", (ev.Recovered - ev.Healed).Round(time.Millisecond), "err", ev.Err)
		if !sleepCtx(ctx, f.After) {
			break
		}
	}
	rep.FaultPhase = time.Since(start)

	// Heal everything, let the cluster become whole, then drain.
	if err := c.HealAll(ctx); err != nil {
		log.Warn("final heal", "err", err)
	}
	if err := c.WaitHealthy(ctx, 90*time.Second); err != nil {
		log.Warn("cluster not whole after the final heal", "err", err)
	}
	if err := c.control(ctx, "POST", "/drain", nil); err != nil {
		return err
	}
	rep.Final.Drained = waitFor(ctx, 120*time.Second, func() error {
		var st workload.Status
		if err := c.control(ctx, "GET", "/status", &st); err != nil {
			return err
		}
		for mode, open := range st.Open {
			if open > 0 {
				return fmt.Errorf("%s has %d open tasks", mode, open)
			}
		}
		return nil
	}) == nil
	rep.Final.AgentTotal = c.AgentTotal
	c.snapshot(ctx, &rep.Final)

	var rec workload.Record
	if err := c.control(ctx, "POST", "/finish", &rec); err != nil {
		return err
	}
	rep.WorkloadStart = rec.Start
	f, err := os.Open(filepath.Join(c.dir, "ledger"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("chaos: %w", err)
	}
	in := Input{Record: rec, Final: rep.Final, Lin: lincheck.Options{
		ReadWindow:   10 * time.Second,
		VisualizeDir: filepath.Join(c.dir, "lin"),
		Staleness:    map[lincheck.Kind]time.Duration{lincheck.FrameworkRead: FrameworkReadStaleness},
	}}
	if f != nil {
		in.Ledger, in.LedgerProblems, err = ParseLedger(f)
		f.Close()
		if err != nil {
			return err
		}
	}
	_ = lincheck.Save(filepath.Join(c.dir, "history.json"), rec.Lin)
	rep.Verdict = Check(in)
	return nil
}

// snapshot records the leader's view after the drain. The leader's agents
// and tasks are read until two reads in a row agree on used resources, so
// that a snapshot is not torn by an update in flight.
func (c *Cluster) snapshot(ctx context.Context, fin *Final) {
	_ = waitFor(ctx, 30*time.Second, func() error {
		leader, term, err := c.Leader(ctx)
		if err != nil {
			return err
		}
		var agents []AgentView
		var state struct {
			Tasks []TaskView `json:"tasks"`
		}
		if err := c.getJSON(ctx, leader, "/api/v1/agents", &agents); err != nil {
			return err
		}
		if err := c.getJSON(ctx, leader, "/api/v1/state", &state); err != nil {
			return err
		}
		fin.Leader, fin.Term, fin.Agents, fin.Tasks = leader, term, agents, state.Tasks
		return nil
	})
	fin.Orphans = c.Orphans()
}

// inject applies one fault, undoes it after its duration and waits for
// the cluster to be whole again.
func (c *Cluster) inject(ctx context.Context, f Fault, t0 time.Time) Event {
	ev := Event{Fault: f}
	leader, term, lerr := c.Leader(ctx)
	ev.Leader, ev.Term = leader, term
	if lerr != nil {
		leader = masterNames[f.Pick%len(masterNames)]
		ev.Err = "no leader known; hit " + leader
	}
	var heal func() error
	var err error
	switch f.Kind {
	case KillLeader:
		ev.Target = leader
		p := c.masters[leader]
		err = p.Kill()
		heal = p.Start
	case PauseLeader:
		ev.Target = leader
		p := c.masters[leader]
		err = p.Pause()
		heal = p.Resume
	case PartitionLeader:
		ev.Target = leader
		for _, other := range append(append([]string(nil), masterNames...), agentNames...) {
			if other != leader && err == nil {
				err = c.net.Block(ctx, leader, other)
			}
		}
		heal = func() error { return c.net.Heal(ctx) }
	case IsolateLeader:
		ev.Target = leader
		err = c.net.Isolate(ctx, leader)
		heal = func() error { return c.net.Heal(ctx) }
	case PartitionAgent:
		a := agentNames[f.Pick%len(agentNames)]
		ev.Target = a
		for _, m := range masterNames {
			if err == nil {
				err = c.net.Block(ctx, a, m)
			}
		}
		heal = func() error { return c.net.Heal(ctx) }
	case RestartAgent:
		a := agentNames[f.Pick%len(agentNames)]
		ev.Target = a
		p := c.agents[a]
		err = p.Kill()
		heal = p.Start
	case KillFollower:
		var followers []string
		for _, m := range masterNames {
			if m != leader {
				followers = append(followers, m)
			}
		}
		m := followers[f.Pick%len(followers)]
		ev.Target = m
		p := c.masters[m]
		err = p.Kill()
		heal = p.Start
	}
	ev.At = time.Now()
	ev.Start = ev.At.Sub(t0)
	if err != nil {
		ev.Err = strings.TrimSpace(ev.Err + " inject: " + err.Error())
	}
	sleepCtx(ctx, f.For)
	if heal != nil {
		if err := heal(); err != nil {
			ev.Err = strings.TrimSpace(ev.Err + " heal: " + err.Error())
		}
	}
	ev.Healed = time.Since(t0)
	if err := c.WaitHealthy(ctx, recoveryTimeout); err != nil {
		ev.Err = strings.TrimSpace(ev.Err + " " + err.Error())
		// Make sure nothing stays broken before the next fault.
		if herr := c.HealAll(ctx); herr != nil {
			ev.Err += " heal-all: " + herr.Error()
		}
		return ev
	}
	ev.Recovered = time.Since(t0)
	return ev
}

// waitFor polls fn every 250 ms until it succeeds or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, fn func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := fn()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %s: %w", timeout, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// sleepCtx waits d (the fault's planned length) unless ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// buildAgora builds the agora binary into dir.
func buildAgora(ctx context.Context, root, dir string) (string, error) {
	if root == "" {
		var err error
		if root, err = repoRoot(); err != nil {
			return "", err
		}
	}
	out := filepath.Join(dir, "agora")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, ".")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("chaos: go build agora: %w: %s", err, b)
	}
	return out, nil
}

// repoRoot finds the module root above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("chaos: go.mod not found above the working directory")
		}
		dir = parent
	}
}
