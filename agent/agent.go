// Package agent is the Agora agent daemon: it registers its machine's
// resources with the leading master, launches the tasks the master sends,
// reports their status until each update is acknowledged, and
// re-registers with whichever master leads next.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/agent/launcher"
	"github.com/agora-cluster/agora/agent/resources"
	"github.com/agora-cluster/agora/sdk/wire"
)

type taskKey struct {
	fw   wire.FrameworkID
	task wire.TaskID
}

type task struct {
	fw    wire.FrameworkID
	info  wire.TaskInfo
	proc  launcher.Task
	state wire.TaskState
	done  bool // the process ended; its terminal update is queued
}

// Agent is a running agent.
type Agent struct {
	cfg       Config
	id        wire.AgentID
	info      wire.AgentInfo
	log       *slog.Logger
	subj      wire.Subjects
	exec      launcher.Executor
	nc        *nats.Conn
	fence     wire.TermFence
	upd       *updateManager
	store     *checkpointStore
	count     counters
	metricsLn net.Listener

	mu              sync.Mutex
	tasks           map[taskKey]*task
	registered      bool
	leader          wire.LeaderInfo
	heartbeatEvery  time.Duration
	registerSpread  time.Duration // from the last registration's answer
	registeringTerm uint64        // highest term a registration was started for
	// seenTerm, seenSeq: the last numbered LAUNCH or REREGISTER handled
	// (wire.Launch.Seq), echoed in registrations.
	seenTerm, seenSeq uint64
	// killingAll: Stop(true) has begun; launches are refused from then on,
	// and launching counts those already under way, for Stop to wait for.
	killingAll bool
	launching  sync.WaitGroup

	reregister chan struct{}
	// heartbeatChanged: a leader announcement changed heartbeatEvery.
	heartbeatChanged chan struct{}
	ctx              context.Context
	cancel           context.CancelFunc
	wg               sync.WaitGroup
	stopOnce         sync.Once
}

var errStaleLeader = errors.New("agent: reply from a deposed leader")

// ErrNoResources is returned for an agent with no cpus or no memory.
var ErrNoResources = errors.New("agent: no cpus or no memory to offer")

// Start starts an agent: it detects resources, connects to NATS and begins
// registering with the leader. It returns once the agent runs; call Stop.
func Start(cfg Config) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("agent: invalid config: %w", err)
	}
	if err := os.MkdirAll(cfg.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("agent: work dir: %w", err)
	}
	id, err := agentID(cfg)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("agent", id)
	res := cfg.Resources
	if !resources.Complete(res, cfg.ResourcesGiven) {
		detected, err := resources.Detect(cfg.WorkDir)
		if err != nil {
			return nil, err
		}
		res = resources.Merge(detected, cfg.Resources, cfg.ResourcesGiven)
	}
	if res.CPUs <= 0 || res.MemMB <= 0 {
		return nil, fmt.Errorf("%w: it has %s; an agent needs cpus and memory (see --resources)", ErrNoResources, res)
	}
	exec := cfg.Executor
	if exec == nil {
		pe, err := launcher.NewProcessExecutor(launcher.ProcessConfig{
			WorkDir:          cfg.WorkDir,
			DefaultKillGrace: cfg.KillGrace,
			Logger:           log,
		})
		if err != nil {
			return nil, fmt.Errorf("agent: %w", err)
		}
		exec = pe
	}
	hostname := cfg.Hostname
	if hostname == "" {
		hostname, _ = os.Hostname()
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &Agent{
		cfg:  cfg,
		id:   id,
		log:  log,
		subj: wire.NewSubjects(cfg.Prefix),
		exec: exec,
		info: wire.AgentInfo{
			ID: id, Hostname: hostname, Resources: res, Attributes: cfg.Attributes,
			Isolation: isolationOf(exec),
		},
		tasks:            map[taskKey]*task{},
		reregister:       make(chan struct{}, 1),
		heartbeatChanged: make(chan struct{}, 1),
		ctx:              ctx,
		cancel:           cancel,
	}
	rec, err := a.openStore()
	if err != nil {
		cancel()
		return nil, err
	}
	log.Info("agent starting", "resources", res.String(), "isolation", a.info.Isolation, "executor", exec.Name())
	a.recover(rec)
	if err := a.connect(); err != nil {
		cancel()
		a.store.close()
		return nil, err
	}
	if cfg.MetricsAddr != "" {
		if err := a.serveMetrics(cfg.MetricsAddr); err != nil {
			a.Stop(false)
			return nil, err
		}
	}
	a.goFunc(a.registerLoop)
	a.goFunc(a.retryLoop)
	a.goFunc(a.gcLoop)
	a.goFunc(a.natsWatchLoop)
	return a, nil
}

// openStore opens the agent's checkpoints and the status update manager
// that keeps its updates there; it returns what they recovered.
func (a *Agent) openStore() (recovered, error) {
	store, rec, err := openCheckpoints(a.cfg.WorkDir)
	if err != nil {
		return rec, err
	}
	a.store = store
	a.upd = newUpdateManager(a.sendUpdates, a.cfg.UpdateBackoffMin, a.cfg.UpdateBackoffMax)
	a.upd.onDone = a.forgetTasks
	a.upd.sent = func(n int) { a.count.updatesSent.Add(uint64(n)) }
	a.upd.resent = func(n int) { a.count.updatesResent.Add(uint64(n)) }
	a.upd.persist = store.addUpdates
	a.upd.persistAck = func(acks []wire.StatusAck) {
		if err := store.ackUpdates(acks); err != nil {
			a.log.Warn("checkpoint ack", "err", err)
		}
	}
	return rec, nil
}

func isolationOf(e launcher.Executor) string {
	if i, ok := e.(interface{ Isolation() string }); ok {
		return i.Isolation()
	}
	return "none: " + e.Name() + " executor"
}

// agentID returns the configured ID, the checkpointed one, or a new one
// which it checkpoints.
func agentID(cfg Config) (wire.AgentID, error) {
	path := filepath.Join(cfg.WorkDir, "agent-id")
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		saved := wire.AgentID(strings.TrimSpace(string(b)))
		if cfg.ID != "" && cfg.ID != saved {
			return "", fmt.Errorf("agent: work dir %s belongs to agent %s, not %s", cfg.WorkDir, saved, cfg.ID)
		}
		if err := wire.ValidID("agent id", string(saved)); err != nil {
			return "", fmt.Errorf("agent: %s: %w", path, err)
		}
		return saved, nil
	case !errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("agent: %w", err)
	}
	id := cfg.ID
	if id == "" {
		id = wire.AgentID(wire.NewID("agent-"))
	}
	if err := writeFileAtomic(path, []byte(string(id)+"\n")); err != nil {
		return "", fmt.Errorf("agent: checkpoint id: %w", err)
	}
	return id, nil
}

// writeFileAtomic replaces path with data (write to a temporary file,
// fsync, rename).
func writeFileAtomic(path string, data []byte) error {
	return writeFile(path, data, true)
}

// writeFile replaces path with data through a rename; with sync it also
// fsyncs the data first (surviving a machine crash, not only the agent's).
func writeFile(path string, data []byte, sync bool) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if sync {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (a *Agent) connect() error {
	var opts []nats.Option
	if a.cfg.TLSCA != "" {
		opts = append(opts, nats.RootCAs(a.cfg.TLSCA))
	}
	nc, err := nats.Connect(strings.Join(a.cfg.NATSURLs, ","), append(opts,
		nats.Name("agora-agent-"+string(a.id)),
		nats.CustomInboxPrefix(wire.InboxPrefix("agent", string(a.id))),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond),
		nats.ReconnectBufSize(64<<20),
		nats.ReconnectHandler(func(*nats.Conn) { a.kickRegister() }),
		// natsWatchLoop notices a paused or cut-off server, within a time
		// sized to the cluster.
		nats.PingInterval(libraryPingInterval),
	)...)
	if err != nil {
		return fmt.Errorf("agent: connect NATS: %w", err)
	}
	a.nc = nc
	if _, err := nc.Subscribe(a.subj.Agent(a.id), a.onMessage); err != nil {
		nc.Close()
		return fmt.Errorf("agent: subscribe: %w", err)
	}
	if _, err := nc.Subscribe(a.subj.Leader(), a.onLeader); err != nil {
		nc.Close()
		return fmt.Errorf("agent: subscribe: %w", err)
	}
	return nc.Flush()
}

func (a *Agent) goFunc(f func()) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		f()
	}()
}

// ID is the agent's ID.
func (a *Agent) ID() wire.AgentID { return a.id }

// Info is what the agent registers with.
func (a *Agent) Info() wire.AgentInfo { return a.info }

// Registered reports whether the agent is registered with the current
// leader, and which leader that is.
func (a *Agent) Registered() (bool, wire.LeaderInfo) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.registered, a.leader
}

// HeartbeatInterval is the interval the agent heartbeats at now.
func (a *Agent) HeartbeatInterval() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.heartbeatEvery
}

// Stop stops the agent. With killTasks it kills its tasks first (waiting
// up to their grace); otherwise they keep running and a restarted agent
// recovers them. Safe to call twice.
func (a *Agent) Stop(killTasks bool) {
	a.stopOnce.Do(func() {
		if killTasks {
			// A launch under way would start its processes after the kills
			// below: wait for it first.
			a.mu.Lock()
			a.killingAll = true
			a.mu.Unlock()
			a.launching.Wait()
			a.mu.Lock()
			var procs []launcher.Task
			for _, t := range a.tasks {
				if t.proc != nil {
					procs = append(procs, t.proc)
					t.proc.Kill(a.killGrace(t.info), wire.ReasonAgentRestarted)
				}
			}
			a.mu.Unlock()
			for _, p := range procs {
				<-p.Done()
			}
		}
		a.cancel()
		if a.nc != nil {
			a.nc.Close()
		}
		a.wg.Wait()
		a.store.close()
	})
}

func (a *Agent) killGrace(t wire.TaskInfo) time.Duration {
	if t.KillGrace > 0 {
		return t.KillGrace.D()
	}
	return a.cfg.KillGrace
}

func (a *Agent) kickRegister() {
	a.mu.Lock()
	a.registered = false
	a.mu.Unlock()
	select {
	case a.reregister <- struct{}{}:
	default:
	}
}

// onLeader reacts to leader announcements: a newer term means a new
// leader, which the agent must re-register with.
func (a *Agent) onLeader(msg *nats.Msg) {
	var li wire.LeaderInfo
	env, err := wire.DecodeAs(msg.Data, wire.TypeLeader, &li)
	if err != nil || env.Term == 0 {
		return
	}
	if !a.fence.Admit(env.Term) {
		return
	}
	a.mu.Lock()
	// Once per new term: further announcements of the same term while the
	// registration is under way do not start another.
	newer := env.Term > a.leader.Term && env.Term > a.registeringTerm
	if newer {
		a.registeringTerm = env.Term
	}
	spread := a.registerSpread
	// The leader this agent is registered with asks for another
	// heartbeat interval (its cluster grew or shrank).
	changed := !newer && a.registered && env.Term == a.leader.Term && li.AgentHeartbeat > 0 && li.AgentHeartbeat.D() != a.heartbeatEvery
	if changed {
		a.heartbeatEvery = li.AgentHeartbeat.D()
	}
	a.mu.Unlock()
	if changed {
		select {
		case a.heartbeatChanged <- struct{}{}:
		default:
		}
	}
	if !newer {
		return
	}
	a.log.Info("new leader announced", "leader", li.Name, "term", env.Term)
	if spread <= 0 {
		a.kickRegister()
		return
	}
	// A large cluster's agents spread their registrations with the new
	// leader rather than all sending them at once.
	wait := rand.N(spread)
	term := env.Term
	a.goFunc(func() {
		select {
		case <-a.ctx.Done():
		case <-time.After(wait):
			// The leader may have asked first (a heartbeat of an agent it
			// did not know yet): one registration per term is enough.
			a.mu.Lock()
			done := a.registered && a.leader.Term >= term
			a.mu.Unlock()
			if done {
				a.log.Debug("spread registration not needed: registered already", "term", term)
				return
			}
			a.kickRegister()
		}
	})
}
