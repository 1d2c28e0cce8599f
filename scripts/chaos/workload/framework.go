package workload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Framework modes.
const (
	ModeBatch   = "batch"
	ModeService = "service"
)

// taskNeeds is what every task asks for.
var taskNeeds = wire.Resources{CPUs: 0.2, MemMB: 32}

// planned is a task attempt not yet sent.
type planned struct {
	id       wire.TaskID
	sleep    time.Duration
	exitCode int // -1: a service instance
}

// framework is a scheduler that keeps a number of tasks in flight and
// records everything it is told. Batch tasks sleep a little and exit with
// a chosen code; service instances run until killed. Every task ended is
// replaced by a new attempt with a new task ID until the framework drains.
type framework struct {
	sdk.BaseScheduler
	mode   string
	name   string
	target int
	ledger string
	log    *slog.Logger
	now    func() int64
	rng    *rand.Rand // touched from scheduler callbacks only, under mu

	mu        sync.Mutex
	rec       FrameworkRecord
	tasks     map[wire.TaskID]*TaskRecord
	open      map[wire.TaskID]bool // issued, no final answer yet
	lastHeard map[wire.TaskID]int64
	inFlight  map[wire.TaskID]bool // in an ACCEPT call right now
	// denied holds tasks closed because the master answered TASK_UNKNOWN;
	// if one turns out to be alive it is reopened, and a service kills it
	// (it was replaced meanwhile).
	denied     map[wire.TaskID]bool
	toKill     map[wire.TaskID]bool
	pending    []planned
	seq        int
	draining   bool
	subscribed bool
	finished   int
}

func newFramework(mode, name string, target int, ledger string, seed int64, now func() int64, log *slog.Logger) *framework {
	f := &framework{
		mode: mode, name: name, target: target, ledger: ledger, now: now,
		log:       log.With("fw", name),
		rng:       rand.New(rand.NewSource(seed)),
		tasks:     map[wire.TaskID]*TaskRecord{},
		open:      map[wire.TaskID]bool{},
		lastHeard: map[wire.TaskID]int64{},
		inFlight:  map[wire.TaskID]bool{},
		denied:    map[wire.TaskID]bool{},
		toKill:    map[wire.TaskID]bool{},
	}
	f.rec.Name, f.rec.Mode = name, mode
	f.mu.Lock()
	f.refill()
	f.mu.Unlock()
	return f
}

// refill plans new attempts up to the target. f.mu is held.
func (f *framework) refill() {
	for !f.draining && len(f.open)+len(f.pending) < f.target {
		f.seq++
		p := planned{id: wire.TaskID(fmt.Sprintf("%s-%d", f.mode[:1], f.seq)), exitCode: -1}
		if f.mode == ModeBatch {
			p.sleep = time.Duration(500+f.rng.Intn(3500)) * time.Millisecond
			if f.rng.Intn(10) == 0 {
				p.exitCode = 3
			} else {
				p.exitCode = 0
			}
		}
		f.pending = append(f.pending, p)
	}
}

func (f *framework) command(p planned) string {
	start := fmt.Sprintf(`echo "S $AGORA_FRAMEWORK_ID $AGORA_TASK_ID $$" >> %s`, f.ledger)
	if p.exitCode < 0 {
		return start + "; exec sleep 1000000"
	}
	return fmt.Sprintf(`%s; sleep %.3f; echo "E $AGORA_FRAMEWORK_ID $AGORA_TASK_ID $$ %d" >> %s; exit %d`,
		start, p.sleep.Seconds(), p.exitCode, f.ledger, p.exitCode)
}

// Subscribed implements sdk.Scheduler.
func (f *framework) Subscribed(ctx context.Context, d *sdk.Driver, s wire.Subscribed) {
	f.mu.Lock()
	f.subscribed = true
	f.rec.ID = s.FrameworkID
	f.rec.Subscriptions = append(f.rec.Subscriptions, Subscription{At: f.now(), Term: s.Leader.Term, Leader: s.Leader.Name})
	f.mu.Unlock()
	f.log.Info("subscribed", "leader", s.Leader.Name, "term", s.Leader.Term)
}

// Disconnected implements sdk.Scheduler.
func (f *framework) Disconnected(ctx context.Context, d *sdk.Driver) {
	f.mu.Lock()
	f.subscribed = false
	f.rec.Disconnects++
	f.mu.Unlock()
}

// Error implements sdk.Scheduler.
func (f *framework) Error(ctx context.Context, d *sdk.Driver, err error) {
	f.addError(fmt.Sprintf("%.3fs: %v", float64(f.now())/1e9, err))
}

func (f *framework) addError(s string) {
	f.mu.Lock()
	if len(f.rec.Errors) < 200 {
		f.rec.Errors = append(f.rec.Errors, s)
	}
	f.mu.Unlock()
}

// Offers implements sdk.Scheduler: it packs planned tasks into each offer
// and declines what is left for a second.
func (f *framework) Offers(ctx context.Context, d *sdk.Driver, offers []wire.Offer) {
	for _, o := range offers {
		tasks := f.take(o)
		if len(tasks) == 0 {
			_ = d.Decline(ctx, []wire.OfferID{o.ID}, 1)
			continue
		}
		res, err := d.Accept(ctx, []wire.OfferID{o.ID}, []wire.Operation{{Type: wire.OpLaunch, Tasks: tasks}}, sdk.Refuse(1))
		f.accepted(tasks, res, err)
	}
}

// take moves as many planned tasks as fit into an offer to the issued
// ones and returns them.
func (f *framework) take(o wire.Offer) []wire.TaskInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	var tasks []wire.TaskInfo
	left := o.Resources
	for len(f.pending) > 0 && left.Contains(taskNeeds) {
		p := f.pending[0]
		f.pending = f.pending[1:]
		tasks = append(tasks, wire.TaskInfo{
			TaskID: p.id, Name: string(p.id), AgentID: o.AgentID, Resources: taskNeeds,
			Command: wire.CommandInfo{Value: f.command(p), Shell: true}, KillGrace: wire.Duration(time.Second),
		})
		left = left.Sub(taskNeeds)
		rec := &TaskRecord{ID: p.id, Agent: o.AgentID, Issued: f.now(), ExitCode: p.exitCode}
		f.tasks[p.id] = rec
		f.open[p.id] = true
		f.inFlight[p.id] = true
		f.lastHeard[p.id] = rec.Issued
	}
	return tasks
}

// accepted records how an ACCEPT ended. A refusal the master answered is
// final (the tasks never launched); an unanswered call leaves the tasks
// open until reconciliation says what became of them.
func (f *framework) accepted(tasks []wire.TaskInfo, res wire.AcceptResult, err error) {
	launched := map[wire.TaskID]bool{}
	for _, id := range res.Launched {
		launched[id] = true
	}
	var we *wire.Error
	definite := err != nil && errors.As(err, &we)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range tasks {
		rec := f.tasks[t.TaskID]
		delete(f.inFlight, t.TaskID)
		switch {
		case err == nil && launched[t.TaskID]:
			rec.Accept = AcceptLaunched
		case err == nil:
			rec.Accept = AcceptRefused
			rec.AcceptErr = "task refused by the master"
			f.close(t.TaskID)
		case definite:
			rec.Accept, rec.AcceptErr = AcceptRefused, err.Error()
			f.close(t.TaskID)
		default:
			rec.Accept, rec.AcceptErr = AcceptUnknown, err.Error()
		}
	}
	f.refill()
}

// close marks a task as answered for good and plans its replacement.
// f.mu is held.
func (f *framework) close(id wire.TaskID) {
	if !f.open[id] {
		return
	}
	delete(f.open, id)
	f.finished++
	f.refill()
}

// Update implements sdk.Scheduler.
func (f *framework) Update(ctx context.Context, d *sdk.Driver, s wire.TaskStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec := f.tasks[s.TaskID]
	if rec == nil {
		// Not ours (a reconciliation answer for a task of an earlier
		// incarnation would land here): keep it visible to the checker.
		rec = &TaskRecord{ID: s.TaskID, Agent: s.AgentID, Issued: -1, Accept: "never issued"}
		f.tasks[s.TaskID] = rec
	}
	rec.Updates = append(rec.Updates, UpdateSeen{At: f.now(), State: s.State, Reason: s.Reason, Source: s.Source, Message: s.Message, ExitCode: s.ExitCode})
	f.lastHeard[s.TaskID] = f.now()
	switch {
	case s.State.Terminal():
		delete(f.toKill, s.TaskID)
		delete(f.denied, s.TaskID)
		if f.open[s.TaskID] {
			f.close(s.TaskID)
		}
	case s.State == wire.TaskUnknown:
		if f.open[s.TaskID] {
			f.denied[s.TaskID] = true
			f.close(s.TaskID)
		}
	case f.denied[s.TaskID]:
		// The master said it did not know the task, yet it lives: track
		// it again until it ends; a service has replaced it, so kill it.
		delete(f.denied, s.TaskID)
		f.open[s.TaskID] = true
		f.finished--
		if f.mode == ModeService {
			f.toKill[s.TaskID] = true
		}
	}
}

// reconcile asks explicitly about open tasks not heard of for a while.
func (f *framework) reconcile(ctx context.Context, d *sdk.Driver, quiet time.Duration) {
	now := f.now()
	var asks []wire.ReconcileTask
	f.mu.Lock()
	for id := range f.open {
		if !f.inFlight[id] && now-f.lastHeard[id] > int64(quiet) {
			asks = append(asks, wire.ReconcileTask{TaskID: id, AgentID: f.tasks[id].Agent})
			f.lastHeard[id] = now
		}
	}
	f.mu.Unlock()
	if len(asks) == 0 {
		return
	}
	if _, err := d.Reconcile(ctx, asks...); err != nil {
		f.log.Debug("reconcile", "err", err)
	}
}

// drain stops planning new tasks; a service framework kills its instances.
func (f *framework) drain() {
	f.mu.Lock()
	f.draining = true
	f.pending = nil
	f.mu.Unlock()
}

// killMarked kills the tasks marked for killing (revived ones a service
// had replaced).
func (f *framework) killMarked(ctx context.Context, d *sdk.Driver) {
	f.mu.Lock()
	var recs []*TaskRecord
	for id := range f.toKill {
		recs = append(recs, f.tasks[id])
	}
	f.mu.Unlock()
	f.kill(ctx, d, recs)
}

// killOpen sends a KILL for every open task (service instances during a
// drain; batch tasks end by themselves).
func (f *framework) killOpen(ctx context.Context, d *sdk.Driver) {
	f.mu.Lock()
	var ids []*TaskRecord
	for id := range f.open {
		if !f.inFlight[id] {
			ids = append(ids, f.tasks[id])
		}
	}
	f.mu.Unlock()
	f.kill(ctx, d, ids)
}

func (f *framework) kill(ctx context.Context, d *sdk.Driver, recs []*TaskRecord) {
	for _, rec := range recs {
		err := d.Kill(ctx, rec.ID, rec.Agent)
		f.mu.Lock()
		rec.Kills++
		f.mu.Unlock()
		if err != nil {
			f.log.Debug("kill", "task", rec.ID, "err", err)
		}
	}
}

func (f *framework) status() (open, issued, finished int, subscribed bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.open), len(f.tasks), f.finished, f.subscribed
}

func (f *framework) record() FrameworkRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.rec
	r.Subscriptions = append([]Subscription(nil), f.rec.Subscriptions...)
	r.Errors = append([]string(nil), f.rec.Errors...)
	for _, t := range f.tasks {
		tc := *t
		tc.Updates = append([]UpdateSeen(nil), t.Updates...)
		r.Tasks = append(r.Tasks, tc)
	}
	return r
}

// runFramework connects a framework and runs its driver until ctx ends.
// Every event on its subject is also counted by term and sender.
func runFramework(ctx context.Context, f *framework, id wire.FrameworkID, urls []string, terms *termBook, ready chan<- *sdk.Driver) error {
	nc, err := nats.Connect(joinURLs(urls),
		nats.Name("chaos-"+f.name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond),
	)
	if err != nil {
		return fmt.Errorf("workload: %s: connect NATS: %w", f.name, err)
	}
	defer nc.Close()
	subj := wire.NewSubjects("")
	if _, err := nc.Subscribe(subj.Framework(id), func(m *nats.Msg) {
		if env, err := wire.Decode(m.Data); err == nil && env.Term > 0 {
			terms.add("fw/"+f.name, env.Term, env.From, env.Type, f.now())
		}
	}); err != nil {
		return fmt.Errorf("workload: %s: subscribe: %w", f.name, err)
	}
	d, err := sdk.NewDriver(sdk.Config{
		Conn: nc,
		Framework: wire.FrameworkInfo{
			ID: id, Name: f.name, Roles: []string{"*"},
			FailoverTimeout: wire.Duration(time.Hour),
		},
		Logger: f.log,
	}, f)
	if err != nil {
		return fmt.Errorf("workload: %s: %w", f.name, err)
	}
	ready <- d
	err = d.Run(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func joinURLs(urls []string) string {
	s := ""
	for i, u := range urls {
		if i > 0 {
			s += ","
		}
		s += u
	}
	return s
}
