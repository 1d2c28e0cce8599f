package batch

import (
	"context"
	"errors"
	"fmt"
	"github.com/agora-cluster/agora/framework/internal/httpx"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/framework/batch/api"
	"github.com/agora-cluster/agora/framework/batch/cron"
	"github.com/agora-cluster/agora/framework/batch/engine"
	"github.com/agora-cluster/agora/framework/batch/sandbox"
	"github.com/agora-cluster/agora/framework/batch/store"
	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Defaults.
const (
	DefaultName            = "agora-batch"
	DefaultHTTPAddr        = "127.0.0.1:8090"
	DefaultFailoverTimeout = 7 * 24 * time.Hour
)

// Files in the data directory.
const (
	StateFile       = "state.db"
	FrameworkIDFile = "framework_id"
)

// Config configures the framework.
type Config struct {
	// NATSURLs are the cluster's NATS servers.
	NATSURLs []string
	// Prefix is the cluster's subject prefix ("" means "agora").
	Prefix string
	// DataDir holds the state file and the framework ID.
	DataDir string
	// HTTPAddr is where the API listens ("127.0.0.1:0" picks a port;
	// default DefaultHTTPAddr).
	HTTPAddr string
	// Name is the framework's name (default "agora-batch").
	Name string
	// Roles are the framework's roles (none: the default role).
	Roles []string
	// FailoverTimeout is how long the master keeps the framework's tasks
	// while it is away (default 7 days).
	FailoverTimeout time.Duration
	// Sandboxes reads task output for the logs API (default: none, the
	// API answers 501).
	Sandboxes sandbox.Reader
	// NoSync skips fsync on commits (tests, benchmarks).
	NoSync bool
	// Clock overrides the clock (tests).
	Clock cron.Clock
	// Tune, if set, adjusts the engine's configuration.
	Tune   func(*engine.Config)
	Logger *slog.Logger
}

// Server is a running batch framework.
type Server struct {
	cfg    Config
	log    *slog.Logger
	st     *store.Store
	eng    *engine.Engine
	drv    *sdk.Driver
	nc     *nats.Conn
	ln     net.Listener
	http   *http.Server
	cancel context.CancelFunc

	engineCtx    context.Context
	engineCancel context.CancelFunc
	wg           sync.WaitGroup
	engineDone   chan struct{}
	stopOnce     sync.Once
	runErr       error
}

// Start starts the framework: it opens the store in DataDir, registers
// with the master (resuming its framework ID if DataDir has one) and
// serves the API. Stop it with Stop.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("batch: DataDir is required")
	}
	if len(cfg.NATSURLs) == 0 {
		return nil, errors.New("batch: NATSURLs is required")
	}
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = DefaultHTTPAddr
	}
	if cfg.FailoverTimeout <= 0 {
		cfg.FailoverTimeout = DefaultFailoverTimeout
	}
	// Logs come through the leading master unless a reader is given.
	var drv *sdk.Driver
	if cfg.Sandboxes == nil {
		cfg.Sandboxes = &sandbox.Master{Leader: func() string { return drv.Leader().HTTP }}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	log = log.With("component", "batch")
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("batch: data dir: %w", err)
	}
	st, err := store.Open(filepath.Join(cfg.DataDir, StateFile), store.Options{NoSync: cfg.NoSync})
	if err != nil {
		return nil, fmt.Errorf("batch: %w", err)
	}
	ecfg := engine.Config{Store: st, Clock: cfg.Clock, Logger: log, Roles: cfg.Roles}
	if cfg.Tune != nil {
		cfg.Tune(&ecfg)
	}
	eng, err := engine.New(ecfg)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("batch: %w", err)
	}
	// Listen first: the framework tells the master where its API is.
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("batch: listen %s: %w", cfg.HTTPAddr, err)
	}
	// The framework opens the NATS connection itself, to report its
	// state; the driver needs the framework ID for it.
	idFile := filepath.Join(cfg.DataDir, FrameworkIDFile)
	id, err := savedFrameworkID(idFile)
	var nc *nats.Conn
	if err == nil {
		nc, err = connectNATS(cfg.NATSURLs, id)
	}
	if err != nil {
		ln.Close()
		st.Close()
		return nil, fmt.Errorf("batch: %w", err)
	}
	drv, err = sdk.NewDriver(sdk.Config{
		Conn:   nc,
		Prefix: cfg.Prefix,
		Framework: wire.FrameworkInfo{
			ID:              id,
			Name:            cfg.Name,
			Roles:           cfg.Roles,
			FailoverTimeout: wire.Duration(cfg.FailoverTimeout),
			WebUIURL:        "http://" + ln.Addr().String(),
		},
		IDFile:    idFile,
		ManualAck: true,
		Logger:    log,
	}, eng.Scheduler())
	if err != nil {
		nc.Close()
		ln.Close()
		st.Close()
		return nil, fmt.Errorf("batch: %w", err)
	}
	srv := &api.Server{Engine: eng, Sandboxes: cfg.Sandboxes, Logger: log,
		Info: api.Info{Name: cfg.Name, FrameworkID: drv.FrameworkID()}}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metricsHandler(collector{name: cfg.Name, id: drv.FrameworkID(), eng: eng, nc: nc}))
	mux.Handle("/", srv.Handler())
	s := &Server{cfg: cfg, log: log, st: st, eng: eng, drv: drv, nc: nc, ln: ln,
		http:       &http.Server{Handler: httpx.AllowCORSReads(mux), ReadHeaderTimeout: 10 * time.Second},
		engineDone: make(chan struct{})}
	var runCtx context.Context
	runCtx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.engineCtx, s.engineCancel = context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		defer close(s.engineDone)
		if err := eng.Run(s.engineCtx); err != nil {
			s.log.Error("final commit failed", "err", err)
		}
	}()
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		if err := drv.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Error("driver stopped", "err", err)
			s.runErr = err
		}
	}()
	go func() {
		defer s.wg.Done()
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("HTTP server stopped", "err", err)
		}
	}()
	log.Info("batch framework started", "framework", drv.FrameworkID(), "http", ln.Addr().String(), "data", cfg.DataDir)
	return s, nil
}

// Addr is the API's address (host:port).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the API's base URL.
func (s *Server) URL() string { return "http://" + s.Addr() }

// FrameworkID is the framework's ID.
func (s *Server) FrameworkID() wire.FrameworkID { return s.drv.FrameworkID() }

// Engine gives access to the scheduler (tests, agora dev).
func (s *Server) Engine() *engine.Engine { return s.eng }

// Stop stops the framework without unregistering it: its tasks keep
// running, and a framework started again on the same DataDir resumes
// them. Pending changes are committed first. Stop is safe to call twice.
func (s *Server) Stop() { s.stop(true) }

// stop stops; with commit false it drops uncommitted changes, as a crash
// would.
func (s *Server) stop(commit bool) {
	s.stopOnce.Do(func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.http.Shutdown(shutdownCtx)
		if commit {
			_ = s.drv.Stop(shutdownCtx, true)
		}
		s.cancel()
		s.wg.Wait()
		s.nc.Close() // the driver has stopped; it does not close a connection it was given
		if commit {
			s.engineCancel()
			<-s.engineDone
		}
		if err := s.st.Close(); err != nil {
			s.log.Error("close store", "err", err)
		}
		if !commit {
			s.engineCancel()
			<-s.engineDone
		}
		s.log.Info("batch framework stopped")
	})
}

// Teardown unregisters the framework: the master kills its tasks and
// forgets it, and the framework ID file is removed. The state file is
// kept. The server is stopped.
func (s *Server) Teardown(ctx context.Context) error {
	err := s.drv.Stop(ctx, false)
	s.Stop()
	return err
}
