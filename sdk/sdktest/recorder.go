package sdktest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Recorder is a Scheduler for tests: it keeps every event, holds offers
// until the test uses them, and lets the test wait for what it expects.
// Set OnOffers to answer offers from the driver's goroutine instead.
type Recorder struct {
	// OnOffers, if set, is called with each batch of offers (after they
	// are recorded).
	OnOffers func(ctx context.Context, d *sdk.Driver, offers []wire.Offer)
	// OnUpdate, if set, is called with each update (after it is recorded).
	OnUpdate func(ctx context.Context, d *sdk.Driver, s wire.TaskStatus)

	mu         sync.Mutex
	changed    chan struct{}
	offers     map[wire.OfferID]wire.Offer
	allOffers  []wire.Offer
	rescinded  []wire.OfferID
	updates    []wire.TaskStatus
	subscribed []wire.Subscribed
	errs       []error
	failures   []wire.Failure
	disconn    int
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder {
	return &Recorder{changed: make(chan struct{}), offers: map[wire.OfferID]wire.Offer{}}
}

func (r *Recorder) notify() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// Subscribed implements sdk.Scheduler.
func (r *Recorder) Subscribed(_ context.Context, _ *sdk.Driver, s wire.Subscribed) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subscribed = append(r.subscribed, s)
	// Offers from before a re-subscription are void.
	clear(r.offers)
	r.notify()
}

// Offers implements sdk.Scheduler.
func (r *Recorder) Offers(ctx context.Context, d *sdk.Driver, offers []wire.Offer) {
	r.mu.Lock()
	for _, o := range offers {
		r.offers[o.ID] = o
		r.allOffers = append(r.allOffers, o)
	}
	r.notify()
	hook := r.OnOffers
	r.mu.Unlock()
	if hook != nil {
		hook(ctx, d, offers)
	}
}

// Rescind implements sdk.Scheduler.
func (r *Recorder) Rescind(_ context.Context, _ *sdk.Driver, id wire.OfferID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.offers, id)
	r.rescinded = append(r.rescinded, id)
	r.notify()
}

// Update implements sdk.Scheduler.
func (r *Recorder) Update(ctx context.Context, d *sdk.Driver, s wire.TaskStatus) {
	r.mu.Lock()
	r.updates = append(r.updates, s)
	r.notify()
	hook := r.OnUpdate
	r.mu.Unlock()
	if hook != nil {
		hook(ctx, d, s)
	}
}

// Failure implements sdk.Scheduler.
func (r *Recorder) Failure(_ context.Context, _ *sdk.Driver, f wire.Failure) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, f)
	r.notify()
}

// Error implements sdk.Scheduler.
func (r *Recorder) Error(_ context.Context, _ *sdk.Driver, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
	r.notify()
}

// Disconnected implements sdk.Scheduler.
func (r *Recorder) Disconnected(context.Context, *sdk.Driver) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.disconn++
	r.notify()
}

// wait polls cond (under the recorder's lock) until it holds or the
// timeout passes.
func (r *Recorder) wait(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ok := cond()
		ch := r.changed
		r.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return false
		}
	}
}

// TakeOffer waits for an outstanding offer that satisfies pred (nil: any),
// removes it from the outstanding set and returns it.
func (r *Recorder) TakeOffer(t testing.TB, timeout time.Duration, pred func(wire.Offer) bool) wire.Offer {
	t.Helper()
	var got wire.Offer
	ok := r.wait(timeout, func() bool {
		for id, o := range r.offers {
			if pred == nil || pred(o) {
				got = o
				delete(r.offers, id)
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("no matching offer within %s", timeout)
	}
	return got
}

// Outstanding returns the offers not yet taken, rescinded or voided.
func (r *Recorder) Outstanding() []wire.Offer {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]wire.Offer, 0, len(r.offers))
	for _, o := range r.offers {
		out = append(out, o)
	}
	return out
}

// Rescinded returns the IDs of the offers rescinded so far, in order.
func (r *Recorder) Rescinded() []wire.OfferID {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.rescinded)
}

// OffersReceived counts every offer ever received.
func (r *Recorder) OffersReceived() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.allOffers)
}

// WaitUpdate waits for an update that satisfies pred and returns it.
// pred runs under the recorder's lock: it must not call the recorder.
func (r *Recorder) WaitUpdate(t testing.TB, timeout time.Duration, pred func(wire.TaskStatus) bool) wire.TaskStatus {
	t.Helper()
	var got wire.TaskStatus
	ok := r.wait(timeout, func() bool {
		for _, u := range r.updates {
			if pred(u) {
				got = u
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("no matching update within %s; updates: %v", timeout, r.Updates())
	}
	return got
}

// WaitState waits for an update putting task in state.
func (r *Recorder) WaitState(t testing.TB, timeout time.Duration, task wire.TaskID, state wire.TaskState) wire.TaskStatus {
	t.Helper()
	return r.WaitUpdate(t, timeout, func(s wire.TaskStatus) bool { return s.TaskID == task && s.State == state })
}

// WaitSubscribed waits until the driver has subscribed n times in all.
func (r *Recorder) WaitSubscribed(t testing.TB, timeout time.Duration, n int) wire.Subscribed {
	t.Helper()
	var got wire.Subscribed
	if !r.wait(timeout, func() bool {
		if len(r.subscribed) >= n {
			got = r.subscribed[len(r.subscribed)-1]
			return true
		}
		return false
	}) {
		t.Fatalf("not subscribed %d times within %s", n, timeout)
	}
	return got
}

// Updates returns every update received, in order.
func (r *Recorder) Updates() []wire.TaskStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]wire.TaskStatus(nil), r.updates...)
}

// Subscriptions returns every SUBSCRIBED received.
func (r *Recorder) Subscriptions() []wire.Subscribed {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]wire.Subscribed(nil), r.subscribed...)
}

// Errors returns the errors reported to the scheduler.
func (r *Recorder) Errors() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

// Failures returns the agent failures reported to the scheduler, in order.
func (r *Recorder) Failures() []wire.Failure {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.failures)
}

// Disconnects counts the driver's Disconnected calls: each is a leader
// that went silent for three heartbeat intervals.
func (r *Recorder) Disconnects() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.disconn
}

// RunDriver builds a driver for sched on the cluster, runs it until the
// test ends, and waits for its first subscription.
func (c *Cluster) RunDriver(t testing.TB, info wire.FrameworkInfo, sched sdk.Scheduler, adjust ...func(*sdk.Config)) *sdk.Driver {
	t.Helper()
	cfg := sdk.Config{NATSURLs: c.NATSURLs(), Framework: info, Logger: TestLogger(t), CallTimeout: 2 * time.Second}
	for _, f := range adjust {
		f(&cfg)
	}
	d, err := sdk.NewDriver(cfg, sched)
	if err != nil {
		t.Fatalf("sdktest: driver: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return d
}

// Offered subscribes a framework with a new Recorder and returns, with
// the driver and the recorder, the first offer it receives that fits
// (nil: any), taken from the recorder's outstanding offers.
func (c *Cluster) Offered(t testing.TB, info wire.FrameworkInfo, fits func(wire.Offer) bool) (*sdk.Driver, *Recorder, wire.Offer) {
	t.Helper()
	rec := NewRecorder()
	d := c.RunDriver(t, info, rec)
	rec.WaitSubscribed(t, 5*time.Second, 1)
	return d, rec, rec.TakeOffer(t, 5*time.Second, fits)
}

// RunTask subscribes a framework with a new Recorder, launches task on
// the first offer that has room for it, and returns once the task is
// RUNNING, with the driver, its recorder and the offer used.
func (c *Cluster) RunTask(t testing.TB, info wire.FrameworkInfo, task wire.TaskInfo) (*sdk.Driver, *Recorder, wire.Offer) {
	t.Helper()
	d, rec, o := c.Offered(t, info, func(o wire.Offer) bool { return o.Resources.Contains(task.Resources) })
	res, err := d.Launch(Ctx(t, 5*time.Second), o, task)
	if err != nil || len(res.Launched) != 1 {
		t.Fatalf("sdktest: launch %s: %+v, %v", task.TaskID, res, err)
	}
	rec.WaitState(t, 5*time.Second, task.TaskID, wire.TaskRunning)
	return d, rec, o
}
