package master

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/master/allocator"
	"github.com/agora-cluster/agora/sdk/wire"
)

// leader is the soft state of one leadership term: who is connected, what
// is offered, what runs. It is rebuilt from scratch on every election.
//
// Lock order: leader.mu, then the allocator's own lock. Never hold
// leader.mu across a raft apply.
type leader struct {
	m     *Master
	term  uint64
	log   *slog.Logger
	alloc allocator.Interface

	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	wgMu     sync.Mutex // guards stopping and wg.Add against wg.Wait
	stopping bool
	// serving: subscribed to the master subjects (set at the end of
	// start); until then the leader exists but answers nothing.
	serving atomic.Bool

	mu        sync.Mutex
	subs      []*nats.Subscription
	electedAt time.Time
	// electedClock: electedAt on the master's clock (Config.Now), which
	// framework timeouts are measured on.
	electedClock time.Time
	agents       map[wire.AgentID]*agentState
	frameworks   map[wire.FrameworkID]*frameworkState
	offers       map[wire.OfferID]*offer
	agentOffer   map[wire.AgentID]map[wire.OfferID]*offer // l.offers by agent
	tasks        map[taskKey]*taskState
	// byAgent indexes tasks by the agent they were placed on, so that work
	// on one agent (re-registration, loss) never walks every task.
	byAgent   map[wire.AgentID]map[taskKey]*taskState
	completed []*taskState // ring of recently finished tasks, for the state API
	// forgotten indexes completed by task: what a late re-registration
	// reports as ended may have been acknowledged meanwhile.
	forgotten  map[taskKey]*taskState
	offerSeq   uint64
	dirty      map[wire.AgentID]struct{}
	dirtyAll   bool
	dirtySince time.Time // first allocation trigger since the last pass
	// drainKilled is when the tasks of a draining agent were last sent
	// kills.
	drainKilled map[wire.AgentID]time.Time
	// registryAgents: the registry's agents that are not gone, counted
	// by the health check; heartbeat intervals are sized for them.
	registryAgents int
	// announcedEvery: the heartbeat interval the last announcement asked
	// of agents (they adopt it; see agentSilenceAllowed).
	announcedEvery time.Duration
	// awaited: the registry's agents, admitted before this leader, that
	// have neither re-registered with it nor been marked unreachable; their
	// tasks are not known yet (see reconcile.go).
	awaited map[wire.AgentID]struct{}
	// reconWait: explicitly asked tasks not answered yet, by the agent
	// they were asked on ("" for none).
	reconWait map[wire.AgentID]map[taskKey]struct{}
	// registering counts, by agent, the registrations received and not yet
	// handled; asked is when an agent not registered with this leader was
	// last asked to register (see askUnregistered).
	registering map[wire.AgentID]int
	asked       map[wire.AgentID]time.Time

	trigger chan struct{}

	agentLocks [256]sync.Mutex // see agentLock
	seqs       [64]seqStripe   // see sendNumbered

	snapMu sync.Mutex // guards the cached state view for the HTTP API
	snap   *stateCache
}

type taskKey struct {
	fw   wire.FrameworkID
	task wire.TaskID
}

type agentState struct {
	info     wire.AgentInfo
	lastSeen time.Time
	every    time.Duration // heartbeat interval the agent was given
	tasks    map[taskKey]*taskState
	// unsettled: tasks its last registration (at unsettledAt) had not
	// seen launched; see needsSettling.
	unsettled   []*taskState
	unsettledAt time.Time
}

type frameworkState struct {
	info           wire.FrameworkInfo
	connected      bool
	lastSeen       time.Time // last call from the framework
	disconnectedAt time.Time // zero: connected, or never seen by this leader
	removing       bool      // failover timeout passed; teardown under way
	offers         map[wire.OfferID]*offer
	stats          frameworkStats
	// reconcileAll: asked for implicit reconciliation while agents were
	// awaited; their tasks are sent as they re-register.
	reconcileAll bool
}

type frameworkStats struct {
	OffersSent      uint64 `json:"offers_sent"`
	OffersAccepted  uint64 `json:"offers_accepted"`
	OffersDeclined  uint64 `json:"offers_declined"`
	OffersRescinded uint64 `json:"offers_rescinded"`
	TasksLaunched   uint64 `json:"tasks_launched"`
	// RefuseSecondsTotal sums the filters (refuse_seconds, after defaults
	// and caps) of the offers it declined; LastRefuseSeconds is the latest.
	RefuseSecondsTotal float64 `json:"refuse_seconds_total"`
	LastRefuseSeconds  float64 `json:"last_refuse_seconds"`
}

type offer struct {
	wire.Offer
	role    string
	created time.Time
}

type taskState struct {
	fw     wire.FrameworkID
	agent  wire.AgentID
	info   wire.TaskInfo
	status wire.TaskStatus
	usage  *wire.TaskUsage // last measured by the agent, if any
	// launchSeq numbers the LAUNCH that sent the task to its agent
	// (seqPending until it is numbered; 0 when the leader learnt the task
	// from a registration). See agentseq.go.
	launchSeq atomic.Uint64
	recovered bool // resources returned to the allocator
}

const completedTasksKept = 1000

func newLeader(m *Master, term uint64) (*leader, error) {
	ctx, cancel := context.WithCancel(context.Background())
	l := &leader{
		m:            m,
		term:         term,
		log:          m.log.With("term", term),
		alloc:        allocator.New(allocator.Config{MinAllocatable: m.cfg.MinAllocatable, Now: m.cfg.Now}),
		ctx:          ctx,
		cancel:       cancel,
		electedAt:    time.Now(),
		electedClock: m.now(),
		agents:       map[wire.AgentID]*agentState{},
		frameworks:   map[wire.FrameworkID]*frameworkState{},
		offers:       map[wire.OfferID]*offer{},
		agentOffer:   map[wire.AgentID]map[wire.OfferID]*offer{},
		tasks:        map[taskKey]*taskState{},
		byAgent:      map[wire.AgentID]map[taskKey]*taskState{},
		forgotten:    map[taskKey]*taskState{},
		dirty:        map[wire.AgentID]struct{}{},
		drainKilled:  map[wire.AgentID]time.Time{},
		reconWait:    map[wire.AgentID]map[taskKey]struct{}{},
		registering:  map[wire.AgentID]int{},
		asked:        map[wire.AgentID]time.Time{},
		trigger:      make(chan struct{}, 1),
	}
	recs := m.fsm.AgentStatuses()
	l.registryAgents = countAgents(recs)
	l.awaited = awaitedAgents(recs)
	for _, r := range m.fsm.Roles() {
		if err := l.alloc.SetRole(r.Name, r.Weight, r.Quota); err != nil {
			l.log.Warn("role from registry rejected by allocator", "role", r.Name, "err", err)
		}
	}
	// Frameworks known to the registry are remembered, inactive, until they
	// re-subscribe; their tasks are learnt from agent re-registrations.
	for _, f := range m.fsm.Frameworks() {
		l.frameworks[f.Info.ID] = &frameworkState{info: f.Info, disconnectedAt: f.DisconnectedAt, offers: map[wire.OfferID]*offer{}}
		l.alloc.AddFramework(f.Info.ID, f.Info.Roles, false)
	}
	return l, nil
}

// start subscribes to the leader-only subjects and starts the loops.
func (l *leader) start() {
	nc, s := l.m.nc, l.m.subj
	subs := []struct {
		subject string
		handler nats.MsgHandler
	}{
		{s.FromAgents(), l.onAgentMessage},
		{s.Calls(), l.onCall},
	}
	l.mu.Lock()
	for _, sub := range subs {
		ns, err := nc.Subscribe(sub.subject, sub.handler)
		if err != nil {
			l.log.Error("subscribe", "subject", sub.subject, "err", err)
			continue
		}
		_ = ns.SetPendingLimits(1<<20, 1<<30)
		l.subs = append(l.subs, ns)
	}
	l.mu.Unlock()
	_ = nc.Flush()
	l.serving.Store(true)
	l.announce()
	l.goFunc(l.announceLoop)
	l.goFunc(l.allocationLoop)
	l.goFunc(l.healthLoop)
}

// stop unsubscribes and waits for the loops; afterwards the leader sends
// nothing more.
func (l *leader) stop() {
	l.cancel()
	l.wgMu.Lock()
	l.stopping = true
	l.wgMu.Unlock()
	l.mu.Lock()
	for _, s := range l.subs {
		_ = s.Unsubscribe()
	}
	l.subs = nil
	l.mu.Unlock()
	l.wg.Wait()
}

func (l *leader) goFunc(f func()) {
	// NATS handlers start goroutines too; none may be added once stop
	// has begun waiting.
	l.wgMu.Lock()
	defer l.wgMu.Unlock()
	if l.stopping {
		return
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		f()
	}()
}

func (l *leader) active() bool { return l.ctx.Err() == nil }

// deposed is the answer of a leader that stepped down while a request
// waited.
func (l *leader) deposed() error {
	return wire.Errorf(wire.CodeNotLeader, "%s is no longer the leader (term %d)", l.m.cfg.Name, l.term)
}

// write commits a registry change through raft for this leader, within
// 10 s and only while it leads. A write that fails once the leader has
// stepped down (its context ended, or raft refused it) reports deposed.
func (l *leader) write(apply func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(l.ctx, 10*time.Second)
	defer cancel()
	err := apply(ctx)
	if err != nil && !l.active() {
		return l.deposed()
	}
	return err
}

func (l *leader) info() wire.LeaderInfo {
	return wire.LeaderInfo{Name: l.m.cfg.Name, Term: l.term, HTTP: l.m.HTTPAddr()}
}

// publish sends a message stamped with this leader's term. A stopped
// leader publishes nothing.
func (l *leader) publish(subject string, t wire.Type, body any) {
	if !l.active() {
		return
	}
	data, err := wire.Encode(t, l.m.cfg.Name, l.term, body)
	if err != nil {
		l.log.Error("encode", "type", t, "err", err)
		return
	}
	if err := l.m.nc.Publish(subject, data); err != nil {
		l.log.Warn("publish", "subject", subject, "err", err)
	}
}

// reply answers a request; err turns into an ERROR reply.
func (l *leader) reply(msg *nats.Msg, t wire.Type, body any, err error) {
	if msg.Reply == "" {
		return
	}
	if err != nil {
		var we *wire.Error
		if !errors.As(err, &we) {
			we = wire.Errorf(wire.CodeInternal, "%v", err)
		}
		t, body = wire.TypeError, we
	}
	data, encErr := wire.Encode(t, l.m.cfg.Name, l.term, body)
	if encErr != nil {
		l.log.Error("encode reply", "type", t, "err", encErr)
		return
	}
	_ = msg.Respond(data)
}

// announcePeriod is the time until the next announcement (announceEvery
// for the heartbeat interval last announced).
func (l *leader) announcePeriod() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return announceEvery(&l.m.cfg, l.announcedEvery)
}

func (l *leader) announce() {
	li := l.info()
	l.mu.Lock()
	l.announcedEvery = heartbeatEvery(&l.m.cfg, l.clusterSize())
	li.AgentHeartbeat = wire.Duration(l.announcedEvery)
	l.mu.Unlock()
	l.publish(l.m.subj.Leader(), wire.TypeLeader, li)
}

func (l *leader) announceLoop() {
	t := time.NewTimer(l.announcePeriod())
	defer t.Stop()
	hb := time.NewTicker(l.m.cfg.FrameworkHeartbeatInterval)
	defer hb.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-t.C:
			l.announce()
			t.Reset(l.announcePeriod())
		case <-hb.C:
			l.mu.Lock()
			var ids []wire.FrameworkID
			for id, f := range l.frameworks {
				if f.connected {
					ids = append(ids, id)
				}
			}
			l.mu.Unlock()
			for _, id := range ids {
				l.publish(l.m.subj.Framework(id), wire.TypeHeartbeat, wire.Heartbeat{})
			}
		}
	}
}

// task returns the task record, or nil.
func (l *leader) task(fw wire.FrameworkID, id wire.TaskID) *taskState {
	return l.tasks[taskKey{fw, id}]
}

// addTask records a new task. l.mu is held.
func (l *leader) addTask(k taskKey, t *taskState) {
	if old := l.tasks[k]; old != nil {
		l.unindexTask(k, old)
	}
	l.tasks[k] = t
	l.indexTask(k, t)
}

// placeTask notes that t runs on agent (an agent reported a task it did
// not know to be there). l.mu is held.
func (l *leader) placeTask(k taskKey, t *taskState, agent wire.AgentID) {
	if t.agent == agent {
		return
	}
	l.unindexTask(k, t)
	t.agent = agent
	l.indexTask(k, t)
}

func (l *leader) indexTask(k taskKey, t *taskState) {
	m := l.byAgent[t.agent]
	if m == nil {
		m = map[taskKey]*taskState{}
		l.byAgent[t.agent] = m
	}
	m[k] = t
}

func (l *leader) unindexTask(k taskKey, t *taskState) {
	if m := l.byAgent[t.agent]; m[k] == t {
		delete(m, k)
		if len(m) == 0 {
			delete(l.byAgent, t.agent)
		}
	}
}

// setTaskStatus records st as the task's latest status. On the first
// terminal status the task's resources go back to the allocator and it
// leaves its agent's list; the task itself stays known (for
// reconciliation) until the framework acknowledges the terminal update —
// or at once when the update needs no acknowledgement. l.mu is held.
func (l *leader) setTaskStatus(t *taskState, st wire.TaskStatus) {
	t.status = st
	if !st.State.Terminal() {
		return
	}
	if !t.recovered {
		t.recovered = true
		l.alloc.Recover(t.agent, t.fw, t.info.Resources)
		l.markDirty(t.agent)
	}
	key := taskKey{t.fw, t.info.TaskID}
	if a := l.agents[t.agent]; a != nil {
		delete(a.tasks, key)
	}
	if st.UUID == "" {
		l.forgetTask(t)
	}
}

// forgetTask drops a terminal task whose end the framework knows, keeping
// it in the bounded list of completed tasks for the state API. l.mu is
// held.
func (l *leader) forgetTask(t *taskState) {
	key := taskKey{t.fw, t.info.TaskID}
	if l.tasks[key] != t {
		return
	}
	delete(l.tasks, key)
	l.unindexTask(key, t)
	l.completed = append(l.completed, t)
	l.forgotten[key] = t
	if n := len(l.completed) - completedTasksKept; n > 0 {
		for _, old := range l.completed[:n] {
			if k := (taskKey{old.fw, old.info.TaskID}); l.forgotten[k] == old {
				delete(l.forgotten, k)
			}
		}
		l.completed = l.completed[n:]
	}
}

// endKnown reports whether the framework acknowledged that the task ended
// with the terminal update uuid (the task was then forgotten). l.mu is
// held.
func (l *leader) endKnown(k taskKey, uuid string) bool {
	t := l.forgotten[k]
	return t != nil && uuid != "" && t.status.UUID == uuid
}

// masterUpdate builds a status update the master itself generates; it
// carries no UUID and needs no acknowledgement.
func masterUpdate(id wire.TaskID, agent wire.AgentID, state wire.TaskState, reason wire.Reason, format string, args ...any) wire.TaskStatus {
	return wire.TaskStatus{
		TaskID: id, AgentID: agent, State: state, Reason: reason,
		Message: fmt.Sprintf(format, args...), Source: wire.SourceMaster, Timestamp: time.Now(),
	}
}

func (l *leader) sendUpdate(fw wire.FrameworkID, st wire.TaskStatus) {
	l.publish(l.m.subj.Framework(fw), wire.TypeUpdate, wire.Update{Status: st})
}

// sendUpdates sends a framework several statuses, in order, batched.
func (l *leader) sendUpdates(fw wire.FrameworkID, sts []wire.TaskStatus) {
	for _, c := range wire.Chunks(len(sts)) {
		if c[1]-c[0] == 1 {
			l.sendUpdate(fw, sts[c[0]])
			continue
		}
		l.publish(l.m.subj.Framework(fw), wire.TypeUpdates, wire.Updates{Statuses: sts[c[0]:c[1]]})
	}
}

// sendStatusAcks relays acknowledgements to an agent, batched.
func (l *leader) sendStatusAcks(agent wire.AgentID, acks []wire.StatusAck) {
	for _, c := range wire.Chunks(len(acks)) {
		if c[1]-c[0] == 1 {
			l.publish(l.m.subj.Agent(agent), wire.TypeStatusAck, acks[c[0]])
			continue
		}
		l.publish(l.m.subj.Agent(agent), wire.TypeStatusAcks, wire.StatusAcks{Acks: acks[c[0]:c[1]]})
	}
}
