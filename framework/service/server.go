package service

import (
	"context"
	"errors"
	"fmt"
	"github.com/agora-cluster/agora/framework/internal/httpx"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/framework/service/controller"
	"github.com/agora-cluster/agora/framework/service/events"
	"github.com/agora-cluster/agora/framework/service/health"
	"github.com/agora-cluster/agora/framework/service/store"
	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Config configures the framework process.
type Config struct {
	// NATSURLs are the cluster's NATS servers.
	NATSURLs []string
	// Prefix is the cluster's subject prefix ("" means "agora").
	Prefix string
	// DataDir holds the state file and the framework ID.
	DataDir string
	// HTTPAddr is where the API listens (default "127.0.0.1:8090"; use
	// "127.0.0.1:0" for a free port).
	HTTPAddr string
	// Name is the framework's name (default "service").
	Name string
	// Roles are the framework's roles (default none: the master's default).
	Roles []string
	// FailoverTimeout is how long the master keeps the framework's
	// instances running while it is away (default 7 days).
	FailoverTimeout time.Duration
	// ProbeHost maps an agent's hostname to the host to reach it at, for
	// health checks and endpoints (default: as is).
	ProbeHost func(hostname string) string
	// TickInterval is how often timers are checked (default 250ms).
	TickInterval time.Duration
	// StallAfter marks a deployment stalled after this long without
	// progress (default 15s).
	StallAfter time.Duration
	// CallTimeout bounds each call to the master (default 5s).
	CallTimeout time.Duration
	Logger      *slog.Logger
}

// DefaultHTTPAddr is where the API listens unless told otherwise, and
// where the CLI looks for it.
const DefaultHTTPAddr = "127.0.0.1:8090"

// Server is a running service framework.
type Server struct {
	cfg    Config
	log    *slog.Logger
	store  *store.Store
	ctrl   *controller.Controller
	hub    *events.Hub
	runner *health.Runner
	driver *sdk.Driver
	nc     *nats.Conn
	sched  *scheduler
	ln     net.Listener
	http   *http.Server
	// metrics serves GET /metrics.
	metrics http.Handler

	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once
	stopped  chan struct{}
	stopErr  error
}

// Start opens the state in cfg.DataDir, starts the HTTP API and subscribes
// to the masters. It returns once the API listens; subscription happens
// in the background (and is retried while no master answers). The server
// runs until Stop is called or ctx ends (which stops it the same way).
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if len(cfg.NATSURLs) == 0 {
		return nil, errors.New("service: NATSURLs is required")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("service: DataDir is required")
	}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = DefaultHTTPAddr
	}
	if cfg.Name == "" {
		cfg.Name = "service"
	}
	if cfg.FailoverTimeout <= 0 {
		cfg.FailoverTimeout = 7 * 24 * time.Hour
	}
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = 250 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	log := cfg.Logger.With("component", "service")
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("service: data dir: %w", err)
	}
	st, err := store.Open(filepath.Join(cfg.DataDir, "service.db"))
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, store: st, hub: events.NewHub(4096), stopped: make(chan struct{})}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.runner = health.NewRunner(func(r health.Result) { s.ctrl.HealthResult(runCtx, r) })
	s.ctrl, err = controller.New(controller.Config{
		Store:      st,
		Health:     s.runner,
		Events:     func(e events.Event) { s.hub.Publish(e) },
		ProbeHost:  cfg.ProbeHost,
		StallAfter: cfg.StallAfter,
		Logger:     log,
	})
	if err == nil {
		err = s.ctrl.Load()
	}
	if err != nil {
		s.abort()
		return nil, fmt.Errorf("service: %w", err)
	}
	s.sched = &scheduler{c: s.ctrl, log: log}
	// Listen first: the framework tells the master where its API is.
	s.ln, err = net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		s.abort()
		return nil, fmt.Errorf("service: listen %s: %w", cfg.HTTPAddr, err)
	}
	// The framework opens the NATS connection itself, to report its
	// state; the driver needs the framework ID for it.
	idFile := filepath.Join(cfg.DataDir, "framework-id")
	id, err := savedFrameworkID(idFile)
	if err == nil {
		s.nc, err = connectNATS(cfg.NATSURLs, id)
	}
	if err != nil {
		s.abort()
		return nil, fmt.Errorf("service: %w", err)
	}
	s.driver, err = sdk.NewDriver(sdk.Config{
		Conn:   s.nc,
		Prefix: cfg.Prefix,
		Framework: wire.FrameworkInfo{
			ID: id, Name: cfg.Name, Roles: cfg.Roles, FailoverTimeout: wire.Duration(cfg.FailoverTimeout),
			WebUIURL: "http://" + s.ln.Addr().String(),
		},
		IDFile:      idFile,
		CallTimeout: cfg.CallTimeout,
		Logger:      log,
	}, s.sched)
	if err != nil {
		s.abort()
		return nil, fmt.Errorf("service: %w", err)
	}
	s.ctrl.SetDriver(driverAdapter{s.driver})
	s.metrics = metricsHandler(collector{name: cfg.Name, id: s.driver.FrameworkID(),
		ctrl: s.ctrl, subscribed: s.sched.isSubscribed, nc: s.nc})
	s.http = &http.Server{Handler: httpx.AllowCORSReads(s.routes()), ReadHeaderTimeout: 10 * time.Second}
	s.goRun(func() {
		if err := s.http.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
		}
	})
	s.goRun(func() {
		if err := s.driver.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("driver stopped", "err", err)
		}
	})
	s.goRun(func() { s.tick(runCtx) })
	go func() { // not in wg: Stop waits for wg
		select {
		case <-ctx.Done():
			_ = s.Stop()
		case <-s.stopped:
		}
	}()
	log.Info("service framework started", "framework", s.driver.FrameworkID(), "http", s.Addr(), "data", cfg.DataDir)
	return s, nil
}

func (s *Server) goRun(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

func (s *Server) abort() {
	if s.ln != nil {
		_ = s.ln.Close()
	}
	if s.nc != nil {
		s.nc.Close()
	}
	s.cancel()
	s.runner.Close()
	_ = s.store.Close()
}

func (s *Server) tick(ctx context.Context) {
	t := time.NewTicker(s.cfg.TickInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.ctrl.Tick(ctx)
		}
	}
}

// Addr is the API's host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the API's base URL.
func (s *Server) URL() string { return "http://" + s.Addr() }

// FrameworkID is the framework's ID, kept across restarts.
func (s *Server) FrameworkID() wire.FrameworkID { return s.driver.FrameworkID() }

// Controller gives in-process access to the controller (for `agora dev`
// and tests).
func (s *Server) Controller() *controller.Controller { return s.ctrl }

// Events is the server's event hub.
func (s *Server) Events() *events.Hub { return s.hub }

// Subscribed reports whether the framework is subscribed to a master.
func (s *Server) Subscribed() bool { return s.sched.isSubscribed() }

// Stop stops the framework without tearing it down: its instances keep
// running, and a framework started later on the same data directory
// adopts them. It is safe to call twice.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.driver.Stop(ctx, true)
		s.cancel()
		s.hub.Close() // ends SSE streams
		if err := s.http.Shutdown(ctx); err != nil {
			_ = s.http.Close()
		}
		s.runner.Close()
		s.wg.Wait()
		s.nc.Close() // the driver has stopped; it does not close a connection it was given
		s.stopErr = s.store.Close()
		close(s.stopped)
		s.log.Info("service framework stopped")
	})
	return s.stopErr
}

// scheduler adapts the controller to sdk.Scheduler.
type scheduler struct {
	sdk.BaseScheduler
	c   *controller.Controller
	log *slog.Logger

	mu         sync.Mutex
	subscribed bool
}

func (s *scheduler) isSubscribed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.subscribed
}

func (s *scheduler) setSubscribed(v bool) {
	s.mu.Lock()
	s.subscribed = v
	s.mu.Unlock()
}

// Subscribed implements sdk.Scheduler.
func (s *scheduler) Subscribed(ctx context.Context, _ *sdk.Driver, sub wire.Subscribed) {
	s.log.Info("subscribed", "framework", sub.FrameworkID, "leader", sub.Leader.Name, "term", sub.Leader.Term)
	s.setSubscribed(true)
	s.c.Subscribed(ctx)
}

// Offers implements sdk.Scheduler.
func (s *scheduler) Offers(ctx context.Context, _ *sdk.Driver, offers []wire.Offer) {
	s.c.Offers(ctx, offers)
}

// Rescind implements sdk.Scheduler.
func (s *scheduler) Rescind(_ context.Context, _ *sdk.Driver, id wire.OfferID) { s.c.Rescind(id) }

// Update implements sdk.Scheduler. The update is stored before this
// returns, and only then acknowledged by the driver.
func (s *scheduler) Update(ctx context.Context, _ *sdk.Driver, st wire.TaskStatus) {
	s.c.Update(ctx, st)
}

// Failure implements sdk.Scheduler.
func (s *scheduler) Failure(_ context.Context, _ *sdk.Driver, f wire.Failure) {
	s.c.AgentFailure(f.AgentID)
}

// Error implements sdk.Scheduler.
func (s *scheduler) Error(_ context.Context, _ *sdk.Driver, err error) {
	s.log.Warn("master reported an error", "err", err)
}

// Disconnected implements sdk.Scheduler.
func (s *scheduler) Disconnected(context.Context, *sdk.Driver) {
	s.setSubscribed(false)
	s.c.Disconnected()
}

// driverAdapter adapts *sdk.Driver to controller.Driver.
type driverAdapter struct{ d *sdk.Driver }

// launchRefuse is how long the unused rest of an offer used for a launch
// is refused: short, so that the next launch on that agent is not held up.
const launchRefuse = 1.0

// Launch accepts one offer with a LAUNCH of tasks.
func (a driverAdapter) Launch(ctx context.Context, o wire.Offer, tasks ...wire.TaskInfo) error {
	for i := range tasks {
		tasks[i].AgentID = o.AgentID
	}
	_, err := a.d.Accept(ctx, []wire.OfferID{o.ID}, []wire.Operation{{Type: wire.OpLaunch, Tasks: tasks}}, sdk.Refuse(launchRefuse))
	return err
}

// Decline declines offers for refuse seconds.
func (a driverAdapter) Decline(ctx context.Context, ids []wire.OfferID, refuse float64) error {
	return a.d.Decline(ctx, ids, refuse)
}

// Kill kills a task.
func (a driverAdapter) Kill(ctx context.Context, id wire.TaskID, agent wire.AgentID) error {
	return a.d.Kill(ctx, id, agent)
}

// Revive asks for offers again.
func (a driverAdapter) Revive(ctx context.Context) error { return a.d.Revive(ctx) }

// Suppress stops offers.
func (a driverAdapter) Suppress(ctx context.Context) error { return a.d.Suppress(ctx) }

// Reconcile asks for the tasks' states.
func (a driverAdapter) Reconcile(ctx context.Context, ts []wire.ReconcileTask) error {
	_, err := a.d.Reconcile(ctx, ts...)
	return err
}
