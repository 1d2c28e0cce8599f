package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/agora-cluster/agora/master"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// env is the cluster a run measures: masters (in this process, or
// attached), and the agents the run started.
type env struct {
	opts     *Options
	log      *slog.Logger
	prog     *progress
	dir      string           // removed by close
	agentDir string           // removed by close
	cl       *sdktest.Cluster // nil when attached
	natsURLs []string
	sets     []agentSet
	setup    SetupResult
}

// newEnv starts (or attaches to) the masters, starts the agents and waits
// until every agent is registered.
func newEnv(ctx context.Context, o *Options, prog *progress) (*env, error) {
	e := &env{opts: o, log: o.Logger, prog: prog}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	// Fresh directories every run: masters and agents that found an
	// earlier run's state would recover it.
	d, err := os.MkdirTemp(o.Dir, "agora-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	e.dir = d
	ok := false
	defer func() {
		if !ok {
			e.close()
		}
	}()
	e.agentDir = filepath.Join(e.dir, "agents")
	if o.AgentDir != "" {
		if e.agentDir, err = os.MkdirTemp(o.AgentDir, "agora-bench-agents-"); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
	}
	start := time.Now()
	if o.attached() {
		e.natsURLs = o.NATSURLs
	} else {
		prog.set(true, "starting %d master(s)", o.Masters)
		cl, err := sdktest.New(sdktest.Config{
			Masters: o.Masters,
			Dir:     filepath.Join(e.dir, "masters"),
			Logger:  e.log,
			Fast:    o.Fast,
			MasterConfig: func(mc *master.Config) {
				if o.RaftTimeout > 0 {
					mc.RaftHeartbeatTimeout, mc.RaftElectionTimeout = o.RaftTimeout, o.RaftTimeout
					mc.RaftLeaderLease = o.RaftTimeout
				}
				if o.masterConfig != nil {
					o.masterConfig(mc)
				}
			},
		})
		if err != nil {
			return nil, fmt.Errorf("bench: start masters: %w", err)
		}
		e.cl = cl
		if _, err := cl.WaitLeader(30 * time.Second); err != nil {
			return nil, fmt.Errorf("bench: no leader elected: %w", err)
		}
		e.natsURLs = cl.NATSURLs()
	}
	e.setup.MastersSeconds = round3(time.Since(start).Seconds())
	if err := e.startAgents(ctx); err != nil {
		return nil, err
	}
	ok = true
	return e, nil
}

// startAgents starts the run's agents, here or in child processes, and
// waits for them to register.
func (e *env) startAgents(ctx context.Context) error {
	o := e.opts
	spec := agentSpec{
		natsURLs:  e.natsURLs,
		dir:       e.agentDir,
		n:         o.Agents,
		resources: o.AgentResources,
		simulated: o.Scenario != ScenarioReal,
		log:       e.log,
	}
	procs := o.agentProcs()
	e.setup.AgentProcesses = procs
	start := time.Now()
	e.prog.set(true, "starting %d agents (%s)", o.Agents, placeOf(procs))
	if procs == 0 {
		la, err := startLocalAgents(ctx, spec)
		if err != nil {
			return err
		}
		e.sets = append(e.sets, la)
	} else {
		exe := o.Executable
		if exe == "" {
			var err error
			if exe, err = os.Executable(); err != nil {
				return fmt.Errorf("bench: find this program for agent processes: %w", err)
			}
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		var errs []error
		per := (o.Agents + procs - 1) / procs
		for i := 0; i*per < o.Agents; i++ {
			s := spec
			s.first, s.n = i*per, min(per, o.Agents-i*per)
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := startChildAgents(ctx, exe, s, logLevelOf(e.log), o.AgentNice)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				e.sets = append(e.sets, c)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	e.setup.AgentsStartSeconds = round3(time.Since(start).Seconds())
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	_, err := waitRegistered(wctx, e.sets, 1, func(n, total int) {
		e.prog.set(false, "agents registered %d/%d", n, total)
	})
	if err != nil {
		return err
	}
	e.setup.AgentsRegisteredSeconds = round3(time.Since(start).Seconds())
	return nil
}

func placeOf(procs int) string {
	if procs == 0 {
		return "in this process"
	}
	return fmt.Sprintf("in %d child processes", procs)
}

// logLevelOf tells child processes the level this run logs at.
func logLevelOf(l *slog.Logger) string {
	for _, lv := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError} {
		if l.Enabled(context.Background(), lv) {
			return map[slog.Level]string{slog.LevelDebug: "debug", slog.LevelInfo: "info", slog.LevelWarn: "warn", slog.LevelError: "error"}[lv]
		}
	}
	return "off"
}

// leader returns who leads now: in this process from the masters, when
// attached from the first master that answers GET /api/v1/leader.
func (e *env) leader(ctx context.Context) (wire.LeaderInfo, error) {
	if e.cl != nil {
		l := e.cl.Leader()
		if l == nil {
			return wire.LeaderInfo{}, errors.New("bench: no leader")
		}
		return wire.LeaderInfo{Name: l.Name(), Term: l.Term(), HTTP: l.HTTPAddr()}, nil
	}
	var errs []error
	for _, addr := range e.opts.MastersHTTP {
		li, err := getLeader(ctx, addr)
		if err == nil {
			return li, nil
		}
		errs = append(errs, err)
	}
	return wire.LeaderInfo{}, errors.Join(errs...)
}

func getLeader(ctx context.Context, addr string) (wire.LeaderInfo, error) {
	var li wire.LeaderInfo
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/api/v1/leader", nil)
	if err != nil {
		return li, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return li, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return li, fmt.Errorf("bench: %s/api/v1/leader: %s", addr, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&li); err != nil {
		return li, fmt.Errorf("bench: %s/api/v1/leader: %w", addr, err)
	}
	return li, nil
}

// leaderMetrics scrapes the leader's /metrics.
func (e *env) leaderMetrics(ctx context.Context) (map[string]*histogram, map[string]float64, error) {
	_, h, g, err := e.scrapeLeader(ctx)
	return h, g, err
}

// scrapeLeader scrapes the leader's /metrics and says which leader it was.
func (e *env) scrapeLeader(ctx context.Context) (wire.LeaderInfo, map[string]*histogram, map[string]float64, error) {
	li, err := e.leader(ctx)
	if err != nil {
		return li, nil, nil, err
	}
	if li.HTTP == "" {
		return li, nil, nil, errors.New("bench: the leader serves no HTTP API")
	}
	h, g, err := scrapeMetrics(ctx, "http://"+li.HTTP+"/metrics")
	return li, h, g, err
}

// awaitLeaderMetrics is scrapeLeader, waiting up to recoveryTimeout for a
// leader (a leader change may be under way).
func (e *env) awaitLeaderMetrics(ctx context.Context) (wire.LeaderInfo, map[string]*histogram, error) {
	var li wire.LeaderInfo
	var h map[string]*histogram
	var last error
	err := poll(ctx, recoveryTimeout, func() bool {
		li, h, _, last = e.scrapeLeader(ctx)
		return last == nil
	})
	if err != nil {
		return li, nil, fmt.Errorf("bench: no leader's metrics within %s: %w", recoveryTimeout, errors.Join(err, last))
	}
	return li, h, nil
}

// leaderMaster returns the in-process leader, or nil.
func (e *env) leaderMaster() *master.Master {
	if e.cl == nil {
		return nil
	}
	return e.cl.Leader()
}

// agentCount is the number of agents the run started.
func (e *env) agentCount() int {
	n := 0
	for _, s := range e.sets {
		n += s.count()
	}
	return n
}

// close stops the agents, then the masters, and removes a temporary dir.
func (e *env) close() {
	var wg sync.WaitGroup
	for _, s := range e.sets {
		wg.Add(1)
		go func() { defer wg.Done(); s.close() }()
	}
	wg.Wait()
	e.sets = nil
	if e.cl != nil {
		e.cl.Close()
		e.cl = nil
	}
	if e.agentDir != "" {
		_ = os.RemoveAll(e.agentDir)
	}
	if e.dir != "" {
		_ = os.RemoveAll(e.dir)
	}
}
