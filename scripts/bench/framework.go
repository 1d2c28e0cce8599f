package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/wire"
)

// offerMode says what a framework does with the offers it gets.
type offerMode int32

const (
	// modeHold keeps offers to launch pending tasks into (and, in the
	// offers scenario, to decline one at a time).
	modeHold offerMode = iota
	// modeDecline declines every offer for an hour.
	modeDecline
)

// framework is one benchmark framework: an SDK driver and a scheduler
// that packs pending tasks into the offers it holds, many tasks per
// ACCEPT, with a pool of goroutines making ACCEPT calls.
type framework struct {
	idx  int
	t    *tracker
	o    *Options
	log  *slog.Logger
	drv  *sdk.Driver
	mode atomic.Int32

	mu         sync.Mutex
	held       map[wire.OfferID]wire.Offer
	pending    []*taskRec
	uncertain  map[wire.TaskID]*taskRec
	term       uint64
	subscribed bool
	seq        int

	kick    chan struct{}
	jobs    chan acceptJob
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	runDone chan error
}

type acceptJob struct {
	offer wire.Offer
	tasks []*taskRec
}

// startFrameworks starts n frameworks and waits until each is subscribed.
func startFrameworks(ctx context.Context, e *env, t *tracker, n int) ([]*framework, error) {
	var fws []*framework
	for i := range n {
		f, err := startFramework(e, t, i)
		if err != nil {
			stopFrameworks(fws, e.cl == nil)
			return nil, err
		}
		fws = append(fws, f)
	}
	err := poll(ctx, 60*time.Second, func() bool {
		for _, f := range fws {
			if !f.isSubscribed() {
				return false
			}
		}
		return true
	})
	if err != nil {
		stopFrameworks(fws, e.cl == nil)
		return nil, fmt.Errorf("bench: frameworks did not subscribe: %w", err)
	}
	return fws, nil
}

func startFramework(e *env, t *tracker, idx int) (*framework, error) {
	ctx, cancel := context.WithCancel(context.Background())
	f := &framework{
		idx: idx, t: t, o: e.opts, log: e.log,
		held:      map[wire.OfferID]wire.Offer{},
		uncertain: map[wire.TaskID]*taskRec{},
		kick:      make(chan struct{}, 1),
		jobs:      make(chan acceptJob),
		cancel:    cancel,
		runDone:   make(chan error, 1),
	}
	drv, err := sdk.NewDriver(sdk.Config{
		NATSURLs: e.natsURLs,
		Framework: wire.FrameworkInfo{
			Name:            fmt.Sprintf("bench-%d", idx),
			FailoverTimeout: wire.Duration(10 * time.Minute),
		},
		Logger: e.log,
	}, f)
	if err != nil {
		cancel()
		return nil, err
	}
	f.drv = drv
	go func() { f.runDone <- drv.Run(ctx) }()
	f.wg.Add(2 + e.opts.Concurrency)
	go func() { defer f.wg.Done(); f.launchLoop(ctx) }()
	go func() { defer f.wg.Done(); f.reconcileLoop(ctx) }()
	for range e.opts.Concurrency {
		go func() { defer f.wg.Done(); f.acceptWorker(ctx) }()
	}
	return f, nil
}

// startOffered starts n frameworks and waits until they hold offers for
// every agent; stop stops them (see stopFrameworks for teardown). On an
// error nothing is left running.
func startOffered(ctx context.Context, e *env, t *tracker, n int, teardown bool) (fws []*framework, stop func(), err error) {
	if fws, err = startFrameworks(ctx, e, t, n); err != nil {
		return nil, nil, err
	}
	stop = func() { stopFrameworks(fws, teardown) }
	if err := waitOffered(ctx, e, fws); err != nil {
		stop()
		return nil, nil, err
	}
	return fws, stop, nil
}

// stopFrameworks stops the drivers: with teardown the master kills their
// tasks (attached clusters outlive the run), otherwise they only
// disconnect (an in-process cluster is closed next anyway).
func stopFrameworks(fws []*framework, teardown bool) {
	for _, f := range fws {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := f.drv.Stop(ctx, !teardown); err != nil {
			f.log.Warn("stop framework", "framework", f.idx, "err", err)
		}
		cancel()
		select {
		case <-f.runDone:
		case <-time.After(10 * time.Second):
		}
		f.cancel()
		f.wg.Wait()
	}
}

func (f *framework) isSubscribed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.subscribed
}

// addTasks queues n new tasks and wakes the launcher.
func (f *framework) addTasks(n int) []*taskRec {
	recs := make([]*taskRec, n)
	f.mu.Lock()
	for i := range recs {
		f.seq++
		recs[i] = &taskRec{id: wire.TaskID(fmt.Sprintf("b%d-%07d", f.idx, f.seq)), fw: f}
	}
	f.pending = append(f.pending, recs...)
	f.mu.Unlock()
	f.t.add(recs)
	f.wake()
	return recs
}

func (f *framework) wake() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// taskInfo builds the TaskInfo of a task placed on agent.
func (f *framework) taskInfo(r *taskRec, agent wire.AgentID) wire.TaskInfo {
	ti := wire.TaskInfo{TaskID: r.id, AgentID: agent, Resources: f.o.TaskResources}
	if f.o.Scenario == ScenarioReal {
		ti.Command = wire.CommandInfo{Value: "/bin/true"}
		return ti
	}
	ti.Sim = &wire.SimBehavior{Duration: wire.Duration(f.o.TaskDuration), Hang: f.o.TaskHang}
	return ti
}

// launchLoop packs pending tasks into held offers whenever either
// changes, and hands the placements to the ACCEPT workers.
func (f *framework) launchLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.kick:
		}
		for _, job := range f.pack() {
			select {
			case f.jobs <- job:
			case <-ctx.Done():
				return
			}
		}
	}
}

// pack places pending tasks into held offers, spread evenly. Every task
// has the same shape, so this is a division per offer, not the tasks ×
// offers search of sdk.Pack. Tasks that fit nowhere now wait for the next
// offers.
func (f *framework) pack() []acceptJob {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.subscribed || len(f.pending) == 0 || offerMode(f.mode.Load()) != modeHold {
		return nil
	}
	budget := len(f.pending)
	if w := f.o.Window; w > 0 {
		budget = min(budget, w-f.t.inFlight())
	}
	if budget <= 0 {
		return nil
	}
	var jobs []acceptJob
	// Spread: each offer takes an equal share of what may go now (as much
	// as fits), so that tasks land on many agents.
	// At least minBatch tasks per ACCEPT (as many as fit) when there are
	// more offers than tasks to place.
	share := max((budget+len(f.held)-1)/max(1, len(f.held)), minBatch)
	for id, o := range f.held {
		if len(f.pending) == 0 || budget <= 0 {
			break
		}
		n := min(fitCount(o.Resources, f.o.TaskResources), len(f.pending), share, budget, maxTasksPerAccept)
		if n == 0 {
			continue
		}
		delete(f.held, id)
		jobs = append(jobs, acceptJob{offer: o, tasks: f.pending[:n:n]})
		f.pending = f.pending[n:]
		budget -= n
	}
	return jobs
}

// Bounds of one ACCEPT: maxTasksPerAccept stays below the master's
// default bound (10,000); minBatch keeps ACCEPTs from carrying one task
// each when a window or a trickle of tasks meets many offers.
const (
	maxTasksPerAccept = 5000
	minBatch          = 16
)

func (f *framework) acceptWorker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case job := <-f.jobs:
			f.accept(ctx, job)
		}
	}
}

// accept launches a job's tasks with one ACCEPT. What the tasks leave of
// the offer comes back at once (refuse_seconds 0). A refused ACCEPT puts
// its tasks back in the queue; one that got no answer (the leader died)
// leaves them in doubt until reconciliation tells.
func (f *framework) accept(ctx context.Context, job acceptJob) {
	infos := make([]wire.TaskInfo, len(job.tasks))
	for i, r := range job.tasks {
		infos[i] = f.taskInfo(r, job.offer.AgentID)
	}
	f.t.accepting(job.tasks, job.offer.AgentID, time.Now())
	res, err := f.drv.Accept(ctx, []wire.OfferID{job.offer.ID},
		[]wire.Operation{{Type: wire.OpLaunch, Tasks: infos}}, sdk.Refuse(0))
	if err == nil {
		f.t.accepted(res)
		return
	}
	var we *wire.Error
	switch {
	case errors.As(err, &we):
		f.t.acceptFailed(string(we.Code))
		f.requeue(job.tasks)
	case errors.Is(err, nats.ErrNoResponders):
		f.t.acceptFailed("NO_RESPONDERS")
		f.requeue(job.tasks)
	case ctx.Err() != nil:
	default:
		// No answer: by the timeout, or because a newer leader announced
		// itself meanwhile (the one holding the ACCEPT died).
		code := "NO_ANSWER"
		if errors.Is(err, sdk.ErrLeaderChanged) {
			code = "LEADER_CHANGED"
		}
		f.t.acceptFailed(code)
		f.t.setUncertain(job.tasks, true)
		f.mu.Lock()
		for _, r := range job.tasks {
			f.uncertain[r.id] = r
		}
		f.mu.Unlock()
	}
}

// requeue puts tasks that were in flight back at the head of the queue.
func (f *framework) requeue(recs []*taskRec) {
	f.t.release(len(recs))
	f.mu.Lock()
	f.pending = append(append([]*taskRec(nil), recs...), f.pending...)
	f.mu.Unlock()
	f.wake()
}

// reconcileLoop asks the master, every 250 ms, about tasks in doubt:
// known ones are reported (and so are launched); unknown ones on agents
// that re-registered come back as TASK_UNKNOWN and are launched again.
func (f *framework) reconcileLoop(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f.mu.Lock()
		var ask []wire.ReconcileTask
		for id, r := range f.uncertain {
			if !r.uncertain {
				delete(f.uncertain, id)
				continue
			}
			ask = append(ask, wire.ReconcileTask{TaskID: id, AgentID: r.agent})
		}
		sub := f.subscribed
		f.mu.Unlock()
		if len(ask) == 0 || !sub {
			continue
		}
		for len(ask) > 0 {
			n := min(len(ask), 5000)
			if _, err := f.drv.Reconcile(ctx, ask[:n]...); err != nil {
				f.log.Debug("reconcile", "err", err)
				break
			}
			ask = ask[n:]
		}
	}
}

// ---- sdk.Scheduler ----

// Subscribed implements sdk.Scheduler.
func (f *framework) Subscribed(ctx context.Context, d *sdk.Driver, s wire.Subscribed) {
	f.mu.Lock()
	resub := f.term != 0 && f.term != s.Leader.Term
	f.subscribed, f.term = true, s.Leader.Term
	clear(f.held) // offers of an earlier subscription are void
	f.mu.Unlock()
	if resub {
		// A new leader: a launch that an earlier leader accepted may never
		// have reached its agent (an agent drops messages of an older
		// term), and the new leader does not know it. Ask about every
		// launched task not yet running; unknown ones are launched again.
		doubt := f.t.launchedNotRunning(f)
		f.mu.Lock()
		for _, r := range doubt {
			f.uncertain[r.id] = r
		}
		f.mu.Unlock()
	}
	f.t.onSubscribed(s.Leader.Term, time.Now())
	f.wake()
}

// Offers implements sdk.Scheduler.
func (f *framework) Offers(ctx context.Context, d *sdk.Driver, offers []wire.Offer) {
	now := time.Now()
	f.mu.Lock()
	term := f.term
	f.mu.Unlock()
	f.t.onOffers(offers, term, now)
	if offerMode(f.mode.Load()) == modeDecline {
		ids := make([]wire.OfferID, len(offers))
		for i, o := range offers {
			ids[i] = o.ID
		}
		go func() {
			if err := d.Decline(context.Background(), ids, 3600); err != nil {
				f.log.Debug("decline", "err", err)
			}
		}()
		return
	}
	f.mu.Lock()
	for _, o := range offers {
		f.held[o.ID] = o
	}
	f.mu.Unlock()
	f.wake()
}

// Rescind implements sdk.Scheduler.
func (f *framework) Rescind(ctx context.Context, d *sdk.Driver, id wire.OfferID) {
	f.mu.Lock()
	delete(f.held, id)
	f.mu.Unlock()
	f.t.mu.Lock()
	f.t.rescinds++
	f.t.mu.Unlock()
}

// Update implements sdk.Scheduler.
func (f *framework) Update(ctx context.Context, d *sdk.Driver, s wire.TaskStatus) {
	if r := f.t.onUpdate(s, time.Now()); r != nil {
		f.mu.Lock()
		delete(f.uncertain, s.TaskID) // r is a new task when s's launch was lost
		delete(f.uncertain, r.id)
		f.mu.Unlock()
		f.requeue([]*taskRec{r})
	}
	if f.o.Window > 0 {
		f.wake() // room in the window, perhaps
	}
}

// Failure implements sdk.Scheduler.
func (f *framework) Failure(ctx context.Context, d *sdk.Driver, fl wire.Failure) {
	f.t.onError(fmt.Errorf("agent lost: %s: %s", fl.AgentID, fl.Message))
}

// Error implements sdk.Scheduler.
func (f *framework) Error(ctx context.Context, d *sdk.Driver, err error) { f.t.onError(err) }

// Disconnected implements sdk.Scheduler.
func (f *framework) Disconnected(ctx context.Context, d *sdk.Driver) {
	f.mu.Lock()
	f.subscribed = false
	clear(f.held)
	f.mu.Unlock()
}

// takeOffer removes and returns one held offer.
func (f *framework) takeOffer() (wire.Offer, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, o := range f.held {
		delete(f.held, id)
		return o, true
	}
	return wire.Offer{}, false
}

// takeAllOffers returns the IDs of the held offers and forgets them.
func (f *framework) takeAllOffers() []wire.OfferID {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := make([]wire.OfferID, 0, len(f.held))
	for id := range f.held {
		ids = append(ids, id)
	}
	clear(f.held)
	return ids
}

// poll waits until cond holds, checking every 5 ms, or fails after
// timeout or when ctx ends.
func poll(ctx context.Context, timeout time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
