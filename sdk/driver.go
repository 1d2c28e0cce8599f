package sdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/sdk/wire"
)

// Config configures a [Driver].
type Config struct {
	// NATSURLs are the cluster's NATS servers (any subset works). Ignored
	// when Conn is set.
	NATSURLs []string
	// Conn is an existing NATS connection to use; the driver does not
	// close it.
	Conn *nats.Conn
	// TLSCA is the CA (PEM file) to trust when NATS uses TLS.
	TLSCA string
	// Prefix is the cluster's subject prefix ("" means "agora").
	Prefix string
	// Framework describes the framework. An empty ID means the one in
	// IDFile, or a new random one.
	Framework wire.FrameworkInfo
	// IDFile, if set, stores the framework ID so that a restarted
	// framework resumes as the same framework.
	IDFile string
	// ManualAck turns off acknowledging updates when Update returns; the
	// scheduler then calls [Driver.Acknowledge] itself (at-most-once
	// processing: acknowledge after the update is durably handled).
	ManualAck bool
	// CallTimeout bounds each call to the master (default 5 s).
	CallTimeout time.Duration
	// NoReconcile turns off the implicit reconciliation the driver asks
	// for after every subscription.
	NoReconcile bool
	// Logger receives the driver's logs (nil: slog.Default()), each with
	// the framework ID.
	Logger *slog.Logger
}

// Errors returned by the driver.
var (
	// ErrStopped is returned by calls, Run and Stop once Stop has
	// succeeded or Run has returned.
	ErrStopped = errors.New("sdk: driver stopped")
	// ErrNotSubscribed is returned by calls made before Run connected.
	ErrNotSubscribed = errors.New("sdk: not subscribed")
	// ErrAlreadyRunning is returned by Run while another Run is under way.
	ErrAlreadyRunning = errors.New("sdk: driver already running")
	// ErrLeaderChanged is returned by a call still unanswered shortly
	// after a newer leader announced itself (the leader it reached died
	// or stepped down with it in hand), or answered by a leader older than
	// one the driver has heard of. As after a timeout, the call may or
	// may not have taken effect (a launch may have been committed):
	// reconcile the tasks concerned, or repeat a call that is safe to
	// repeat.
	ErrLeaderChanged = errors.New("sdk: the leader changed before it answered")
)

// Driver connects a [Scheduler] to the master cluster: it subscribes,
// follows leader changes (re-subscribing with the same framework ID),
// delivers events in order, acknowledges updates and makes calls.
type Driver struct {
	cfg    Config
	sched  Scheduler
	log    *slog.Logger
	subj   wire.Subjects
	nc     *nats.Conn
	ownsNC bool
	id     wire.FrameworkID
	fence  wire.TermFence
	calls  *callTerms

	events chan wire.Envelope
	resub  chan struct{}

	// heard is when the last message from a master was queued for the
	// scheduler (UnixNano); with messages still waiting in NATS behind a
	// busy scheduler the master is not silent either (eventsPending).
	heard atomic.Int64
	// disconnecting is set while a driver-disconnected event waits for
	// room in the event queue.
	disconnecting atomic.Bool

	mu         sync.Mutex
	running    bool
	subscribed bool
	term       uint64
	leader     wire.LeaderInfo
	heartbeat  time.Duration
	stopped    chan struct{} // closed by a successful Stop or when Run returns
	stopOnce   sync.Once
	stopMu     sync.Mutex // one Stop at a time
	seen       uuidSet    // updates already delivered, to drop resends
	// subscribing is set from the moment a (re-)subscription is wanted
	// until a SUBSCRIBE succeeds; subscribedTerm is the term of the last
	// successful SUBSCRIBE reply.
	subscribing    bool
	subscribedTerm uint64
	subs           []*nats.Subscription
}

// eventQueue is how many decoded events wait for the scheduler. Beyond
// it, events wait undecoded in the NATS subscription's own queue (a
// million messages): nothing is dropped, and a driver does not hold a
// large buffer of pointers that the garbage collector scans every cycle
// (65,536 events were 4.5 MB per driver).
const eventQueue = 1024

// NewDriver builds a driver; [Driver.Run] connects it.
func NewDriver(cfg Config, s Scheduler) (*Driver, error) {
	if s == nil {
		return nil, errors.New("sdk: nil scheduler")
	}
	if cfg.Conn == nil && len(cfg.NATSURLs) == 0 {
		return nil, errors.New("sdk: NATSURLs or Conn is required")
	}
	if cfg.Framework.Name == "" {
		return nil, errors.New("sdk: Framework.Name is required")
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 5 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	id, err := frameworkID(cfg)
	if err != nil {
		return nil, err
	}
	cfg.Framework.ID = id
	if err := cfg.Framework.Validate(); err != nil {
		return nil, fmt.Errorf("sdk: framework: %w", err)
	}
	return &Driver{
		cfg:     cfg,
		sched:   s,
		log:     log.With("framework", id),
		subj:    wire.NewSubjects(cfg.Prefix),
		id:      id,
		calls:   newCallTerms(),
		events:  make(chan wire.Envelope, eventQueue),
		resub:   make(chan struct{}, 1),
		stopped: make(chan struct{}),
	}, nil
}

func frameworkID(cfg Config) (wire.FrameworkID, error) {
	if cfg.IDFile != "" {
		b, err := os.ReadFile(cfg.IDFile)
		if err == nil {
			saved := wire.FrameworkID(strings.TrimSpace(string(b)))
			if cfg.Framework.ID != "" && cfg.Framework.ID != saved {
				return "", fmt.Errorf("sdk: %s holds framework ID %s, not %s", cfg.IDFile, saved, cfg.Framework.ID)
			}
			return saved, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("sdk: read framework ID: %w", err)
		}
	}
	id := cfg.Framework.ID
	if id == "" {
		id = wire.FrameworkID(wire.NewID("fw-"))
	}
	if cfg.IDFile != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.IDFile), 0o755); err != nil {
			return "", fmt.Errorf("sdk: store framework ID: %w", err)
		}
		if err := os.WriteFile(cfg.IDFile, []byte(string(id)+"\n"), 0o644); err != nil {
			return "", fmt.Errorf("sdk: store framework ID: %w", err)
		}
	}
	return id, nil
}

// FrameworkID is the framework's ID, stable across re-subscriptions.
func (d *Driver) FrameworkID() wire.FrameworkID { return d.id }

// Leader is the leader the driver is subscribed with.
func (d *Driver) Leader() wire.LeaderInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.leader
}

// Run connects, subscribes and delivers events to the scheduler until ctx
// ends or Stop is called. It returns nil after Stop, ctx.Err() when ctx
// ends. A driver runs once: Run while another Run is under way returns
// [ErrAlreadyRunning]; once Run has returned, the driver is stopped and
// Run, Stop and every call return [ErrStopped].
func (d *Driver) Run(ctx context.Context) error {
	d.mu.Lock()
	if d.isStopped() {
		d.mu.Unlock()
		return ErrStopped
	}
	if d.running {
		d.mu.Unlock()
		return ErrAlreadyRunning
	}
	d.running = true
	d.mu.Unlock()
	defer d.markStopped()
	if err := d.connect(); err != nil {
		return err
	}
	defer d.close()
	defer d.markStopped() // before close: calls see ErrStopped, not a closed connection
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); d.subscribeLoop(ctx) }()
	go func() { defer wg.Done(); d.watchdog(ctx) }()
	defer wg.Wait()
	d.kickResubscribe()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.stopped:
			cancel()
			return nil
		case env := <-d.events:
			d.dispatch(ctx, env)
		}
	}
}

func (d *Driver) connect() error {
	if d.cfg.Conn != nil {
		d.nc = d.cfg.Conn
	} else {
		opts := []nats.Option{}
		if d.cfg.TLSCA != "" {
			opts = append(opts, nats.RootCAs(d.cfg.TLSCA))
		}
		nc, err := nats.Connect(strings.Join(d.cfg.NATSURLs, ","), append(opts,
			nats.Name("agora-framework-"+string(d.id)),
			nats.CustomInboxPrefix(wire.InboxPrefix("framework", string(d.id))),
			nats.MaxReconnects(-1),
			nats.ReconnectWait(100*time.Millisecond),
			// Notice a paused or cut-off server within seconds.
			nats.PingInterval(time.Second), nats.MaxPingsOutstanding(3),
		)...)
		if err != nil {
			return fmt.Errorf("sdk: connect NATS: %w", err)
		}
		d.nc, d.ownsNC = nc, true
	}
	enqueue := func(m *nats.Msg) {
		env, err := wire.Decode(m.Data)
		if err != nil {
			d.log.Warn("undecodable event", "err", err)
			return
		}
		d.heard.Store(time.Now().UnixNano())
		if env.Type == wire.TypeLeader {
			// At once, not when the event loop gets to it: calls the
			// previous leader will never answer end from here.
			d.calls.heard(env.Term)
		}
		select {
		case d.events <- env:
		case <-d.stopped:
		}
	}
	for _, subject := range []string{d.subj.Framework(d.id), d.subj.Leader()} {
		s, err := d.nc.Subscribe(subject, enqueue)
		if err != nil {
			d.close()
			return fmt.Errorf("sdk: subscribe %s: %w", subject, err)
		}
		_ = s.SetPendingLimits(1<<20, 1<<30)
		d.subs = append(d.subs, s)
	}
	return d.nc.Flush()
}

func (d *Driver) close() {
	for _, s := range d.subs {
		_ = s.Unsubscribe()
	}
	d.subs = nil
	if d.ownsNC && d.nc != nil {
		d.nc.Close()
	}
}

func (d *Driver) kickResubscribe() {
	d.mu.Lock()
	d.subscribed = false
	d.subscribing = true
	d.mu.Unlock()
	select {
	case d.resub <- struct{}{}:
	default:
	}
}

// subscribeLoop sends SUBSCRIBE, with backoff, whenever a (re-)subscription
// is needed. The SUBSCRIBED event itself arrives on the event subject.
func (d *Driver) subscribeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.resub:
		}
		backoff := 50 * time.Millisecond
		for ctx.Err() == nil {
			err := d.subscribeOnce(ctx)
			if err == nil {
				break
			}
			var we *wire.Error
			if errors.As(err, &we) && (we.Code == wire.CodeForbidden || we.Code == wire.CodeInvalid) {
				d.post(ctx, errorEvent(err))
			}
			d.log.Debug("subscribe failed; retrying", "err", err, "in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-d.resub:
				// A new leader announced itself: try it now, not after
				// the backoff built up while there was none.
				backoff = 50 * time.Millisecond
				continue
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 2*time.Second)
		}
	}
}

// eventsPending reports whether messages from the master wait in the
// NATS subscriptions (the scheduler is behind).
func (d *Driver) eventsPending() bool {
	// d.subs is set before the watchdog starts and cleared after it ends.
	for _, s := range d.subs {
		if n, _, err := s.Pending(); err == nil && n > 0 {
			return true
		}
	}
	return false
}

// post queues an event of the driver's own for the scheduler, unless
// Run is ending.
func (d *Driver) post(ctx context.Context, env wire.Envelope) {
	select {
	case d.events <- env:
	case <-ctx.Done():
	}
}

func errorEvent(err error) wire.Envelope {
	return wire.Envelope{V: wire.Version, Type: "driver-error", Body: []byte(fmt.Sprintf("%q", err.Error()))}
}

func (d *Driver) subscribeOnce(ctx context.Context) error {
	var sub wire.Subscribed
	env, err := d.request(ctx, wire.TypeSubscribe, wire.Subscribe{Framework: d.cfg.Framework}, &sub)
	if err == nil {
		d.mu.Lock()
		d.subscribing = false
		if env.Term > d.subscribedTerm {
			d.subscribedTerm = env.Term
		}
		d.mu.Unlock()
	}
	return err
}

// watchdog re-subscribes when the master has been silent for three
// heartbeat intervals.
func (d *Driver) watchdog(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.mu.Lock()
		silent := d.subscribed && d.heartbeat > 0 && time.Since(time.Unix(0, d.heard.Load())) > 3*d.heartbeat
		d.mu.Unlock()
		if silent && d.eventsPending() {
			// Messages wait behind a busy scheduler: not a silent master.
			silent = false
		}
		if silent && d.disconnecting.CompareAndSwap(false, true) {
			d.log.Warn("master silent; re-subscribing")
			// The event may wait for a busy scheduler; the heartbeats
			// below must not. The re-subscription follows the event, so
			// that Disconnected comes before the next Subscribed.
			go func() {
				defer d.disconnecting.Store(false)
				d.post(ctx, wire.Envelope{V: wire.Version, Type: "driver-disconnected"})
				d.kickResubscribe()
			}()
		}
		// Heartbeat to the master so that it sees the framework alive —
		// from the moment a SUBSCRIBE succeeded, whether or not the event
		// loop has caught up with the SUBSCRIBED event yet.
		d.mu.Lock()
		alive := !d.subscribing && d.subscribedTerm > 0
		d.mu.Unlock()
		if alive {
			d.cast(wire.TypeHeartbeat, wire.Heartbeat{})
		}
	}
}

// dispatch delivers one event to the scheduler.
func (d *Driver) dispatch(ctx context.Context, env wire.Envelope) {
	switch env.Type {
	case "driver-error":
		var msg string
		_ = wire.DecodeBody(wire.Envelope{Type: env.Type, Body: env.Body}, &msg)
		d.sched.Error(ctx, d, errors.New(msg))
		return
	case "driver-disconnected":
		d.sched.Disconnected(ctx, d)
		return
	}
	if !d.fence.Admit(env.Term) {
		d.log.Debug("dropped event from an old term", "type", env.Type, "term", env.Term)
		return
	}
	d.mu.Lock()
	current := d.subscribed && env.Term == d.term
	d.mu.Unlock()
	switch env.Type {
	case wire.TypeLeader:
		var li wire.LeaderInfo
		// A leader newer than the one the driver subscribed with: follow
		// it. An announcement that races with a subscription in flight is
		// left alone (the request reached whoever leads now).
		if wire.DecodeBody(env, &li) == nil && !current && d.isStale(env.Term) {
			d.kickResubscribe()
		}
	case wire.TypeSubscribed:
		var s wire.Subscribed
		if err := wire.DecodeBody(env, &s); err != nil {
			return
		}
		d.mu.Lock()
		d.subscribed, d.term, d.leader, d.heartbeat = true, env.Term, s.Leader, s.HeartbeatInterval.D()
		d.mu.Unlock()
		d.sched.Subscribed(ctx, d, s)
		if !d.cfg.NoReconcile {
			_, _ = d.Reconcile(ctx)
		}
	case wire.TypeOffers:
		var o wire.Offers
		if current && wire.DecodeBody(env, &o) == nil {
			d.sched.Offers(ctx, d, o.Offers)
		}
	case wire.TypeRescind:
		var r wire.Rescind
		if wire.DecodeBody(env, &r) == nil {
			d.sched.Rescind(ctx, d, r.OfferID)
		}
	case wire.TypeUpdate:
		var u wire.Update
		if wire.DecodeBody(env, &u) != nil {
			return
		}
		// An agent resends an update until its acknowledgement arrives, so
		// the same update (same UUID) can come twice. With automatic
		// acknowledgement it is delivered once and every copy is
		// acknowledged. With ManualAck every copy is delivered: the
		// scheduler's own acknowledgement may have been lost, and only it
		// can send another.
		if d.cfg.ManualAck || u.Status.UUID == "" || d.seen.add(u.Status.UUID) {
			d.sched.Update(ctx, d, u.Status)
		}
		if !d.cfg.ManualAck && u.Status.UUID != "" {
			d.ackAsync(u.Status)
		}
	case wire.TypeUpdates:
		var u wire.Updates
		if wire.DecodeBody(env, &u) != nil {
			return
		}
		// As for UPDATE, one status at a time, in order; the automatic
		// acknowledgements of the batch go back in one message.
		var acks []wire.Acknowledge
		for _, st := range u.Statuses {
			if d.cfg.ManualAck || st.UUID == "" || d.seen.add(st.UUID) {
				d.sched.Update(ctx, d, st)
			}
			if !d.cfg.ManualAck && st.UUID != "" {
				acks = append(acks, wire.Acknowledge{AgentID: st.AgentID, TaskID: st.TaskID, UUID: st.UUID})
			}
		}
		d.ackAllAsync(acks)
	case wire.TypeFailure:
		var f wire.Failure
		if wire.DecodeBody(env, &f) == nil {
			d.sched.Failure(ctx, d, f)
		}
	case wire.TypeError:
		d.sched.Error(ctx, d, wire.ReplyError(env))
	case wire.TypeHeartbeat:
	}
}

// isStale reports whether an announced term is newer than the one the
// driver subscribed in (or is subscribing in).
func (d *Driver) isStale(term uint64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return !d.subscribing && term > d.subscribedTerm
}

// Stop stops the driver. With failover false the framework is torn down:
// the master kills its tasks and forgets it, and the IDFile is removed.
// With failover true it only disconnects; its tasks keep running until
// its failover timeout, and a new driver with the same ID resumes it.
//
// If the TEARDOWN fails (no leader answers, ctx ends), Stop returns the
// error and the driver keeps running: call Stop again, or end Run's
// context to give up. Once Stop has succeeded — or Run has returned —
// Stop and every call return [ErrStopped].
func (d *Driver) Stop(ctx context.Context, failover bool) error {
	d.stopMu.Lock()
	defer d.stopMu.Unlock()
	if d.isStopped() {
		return ErrStopped
	}
	if !failover {
		_, err := d.request(ctx, wire.TypeTeardown, struct{}{}, nil)
		var we *wire.Error
		if errors.As(err, &we) && we.Code == wire.CodeUnknownFramework {
			// Already gone: an earlier TEARDOWN whose reply was lost.
			err = nil
		}
		if err != nil {
			return fmt.Errorf("sdk: teardown: %w", err)
		}
		if d.cfg.IDFile != "" {
			if err := os.Remove(d.cfg.IDFile); err != nil && !errors.Is(err, os.ErrNotExist) {
				d.log.Warn("framework torn down, but its ID file stays", "err", err)
			}
		}
	}
	d.markStopped()
	return nil
}

// markStopped ends the driver: Run returns and calls fail with
// ErrStopped.
func (d *Driver) markStopped() {
	d.stopOnce.Do(func() { close(d.stopped) })
}

func (d *Driver) isStopped() bool {
	select {
	case <-d.stopped:
		return true
	default:
		return false
	}
}
