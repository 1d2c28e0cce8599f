package workload

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/agora-cluster/agora/scripts/lincheck"
	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/wire"
)

// runner is one workload process.
type runner struct {
	cfg     Config
	log     *slog.Logger
	start   time.Time
	masters *masters
	book    *termBook
	lin     *lincheck.Recorder
	fws     []*framework

	mu              sync.Mutex
	draining        bool
	samples         int
	allocViolations []string
	errors          []string
	started         bool
	allCtx          context.Context // ends everything but the control server
	clientCtx       context.Context // ends the registry clients
	stopClients     context.CancelFunc
	stopAll         context.CancelFunc
	wg              sync.WaitGroup // everything but the control server
	finished        chan struct{}
	finishOnce      sync.Once
	record          Record
}

func (w *runner) now() int64 { return int64(time.Since(w.start)) }

// Run runs the workload until POST /finish (or ctx ends): it returns after
// the record is written.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("workload: %w", err)
	}
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return fmt.Errorf("workload: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(cfg.OutDir, "workload.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("workload: %w", err)
	}
	defer logf.Close()
	w := &runner{
		cfg:      cfg,
		log:      slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelInfo})),
		start:    time.Now(),
		masters:  newMasters(cfg.Masters, cfg.HTTPTimeout.d()),
		book:     newTermBook(),
		lin:      lincheck.NewRecorder(),
		finished: make(chan struct{}),
	}
	w.start = time.Now()
	ln, err := listenUnix(cfg.Socket)
	if err != nil {
		return err
	}
	allCtx, stopAll := context.WithCancel(ctx)
	defer stopAll()
	clientCtx, stopClients := context.WithCancel(allCtx)
	defer stopClients()
	w.mu.Lock()
	w.stopAll, w.stopClients = stopAll, stopClients
	w.allCtx, w.clientCtx = allCtx, clientCtx
	w.mu.Unlock()
	ctlCtx, stopCtl := context.WithCancel(ctx)
	defer stopCtl()
	ctlErr := make(chan error, 1)
	go func() { ctlErr <- w.serveControl(ctlCtx, ln) }()

	select {
	case <-ctx.Done():
		_, _ = w.finish()
	case <-w.finished:
	case err := <-ctlErr:
		_, _ = w.finish()
		return fmt.Errorf("workload: control server: %w", err)
	}
	stopCtl() // the server finishes the /finish answer first
	if err := <-ctlErr; err != nil {
		return fmt.Errorf("workload: control server: %w", err)
	}
	return nil
}

func (d Duration) d() time.Duration { return time.Duration(d) }

// begin starts the frameworks and clients (once).
func (w *runner) begin() {
	w.mu.Lock()
	started := w.started
	w.started = true
	all, clients := w.allCtx, w.clientCtx
	w.mu.Unlock()
	if !started {
		w.startWorkers(all, clients)
	}
}

func (w *runner) startWorkers(all, clients context.Context) {
	urls := w.cfg.NATSURLs()
	for name, m := range w.cfg.Masters {
		w.goFunc(func() {
			if err := runTap(all, name, m.NATS, w.book, w.now); err != nil {
				w.addError(err.Error())
			}
		})
	}
	specs := []struct {
		mode   string
		target int
	}{{ModeBatch, w.cfg.BatchInFlight}, {ModeService, w.cfg.ServiceInstances}}
	for i, s := range specs {
		if s.target == 0 {
			continue
		}
		name := w.cfg.ID + "-" + s.mode
		f := newFramework(s.mode, name, s.target, w.cfg.Ledger, w.cfg.Seed+int64(i), w.now, w.log)
		f.rec.ID = wire.FrameworkID(name)
		w.fws = append(w.fws, f)
		ready := make(chan *sdk.Driver, 1)
		w.goFunc(func() {
			if err := runFramework(all, f, wire.FrameworkID(name), urls, w.book, ready); err != nil {
				w.addError(err.Error())
			}
		})
		w.goFunc(func() {
			var d *sdk.Driver
			select {
			case d = <-ready:
			case <-all.Done():
				return
			}
			w.tend(all, f, d)
		})
	}
	rc := &registryClients{cfg: w.cfg, m: w.masters, rec: w.lin}
	for i := 0; i < w.cfg.RoleClients; i++ {
		w.goFunc(func() { rc.roleClient(clients, i, w.cfg.Seed*1000+int64(i)) })
	}
	for i := 0; i < w.cfg.FrameworkClients; i++ {
		client := w.cfg.RoleClients + i
		w.goFunc(func() {
			if err := rc.frameworkClient(clients, client, w.cfg.Seed*1000+int64(client)); err != nil {
				w.addError(err.Error())
			}
		})
	}
	w.goFunc(func() { w.sample(clients, 2*time.Second) })
}

// tend reconciles a framework's quiet tasks and, while draining, kills
// what still runs.
func (w *runner) tend(ctx context.Context, f *framework, d *sdk.Driver) {
	for i := 0; pause(ctx, time.Second); i++ {
		if i%2 == 0 {
			f.reconcile(ctx, d, 4*time.Second)
		}
		w.mu.Lock()
		draining := w.draining
		w.mu.Unlock()
		switch {
		case draining && f.mode == ModeService && i%3 == 0:
			f.killOpen(ctx, d)
		case i%3 == 0:
			f.killMarked(ctx, d)
		}
	}
}

func (w *runner) goFunc(f func()) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		f()
	}()
}

func (w *runner) addError(s string) {
	w.mu.Lock()
	if len(w.errors) < 100 {
		w.errors = append(w.errors, fmt.Sprintf("%.3fs: %s", float64(w.now())/1e9, s))
	}
	w.mu.Unlock()
	w.log.Error(s)
}

func (w *runner) startDrain() {
	w.mu.Lock()
	already := w.draining
	w.draining = true
	w.mu.Unlock()
	if already {
		return
	}
	w.log.Info("draining")
	w.stopClients()
	for _, f := range w.fws {
		f.drain()
	}
}

func (w *runner) status() Status {
	st := Status{Open: map[string]int{}, Issued: map[string]int{}, Finished: map[string]int{}, Subscribed: map[string]bool{}}
	for _, f := range w.fws {
		open, issued, finished, sub := f.status()
		st.Open[f.mode], st.Issued[f.mode], st.Finished[f.mode], st.Subscribed[f.mode] = open, issued, finished, sub
	}
	st.LinOps = len(w.lin.Ops())
	w.mu.Lock()
	st.Draining, st.Samples = w.draining, w.samples
	w.mu.Unlock()
	return st
}

// finish stops every worker and writes the record (once).
func (w *runner) finish() (Record, error) {
	var err error
	w.finishOnce.Do(func() {
		w.startDrain()
		w.stopAll()
		w.wg.Wait()
		r := Record{Start: w.start, Lin: w.lin.Ops()}
		for _, f := range w.fws {
			fr := f.record()
			sort.Slice(fr.Tasks, func(i, j int) bool { return fr.Tasks[i].Issued < fr.Tasks[j].Issued })
			r.Frameworks = append(r.Frameworks, fr)
		}
		w.book.fill(&r)
		w.mu.Lock()
		r.Samples, r.AllocViolations, r.Errors = w.samples, w.allocViolations, w.errors
		w.mu.Unlock()
		w.record = r
		var b []byte
		if b, err = json.Marshal(r); err == nil {
			err = os.WriteFile(filepath.Join(w.cfg.OutDir, "record.json"), b, 0o644)
		}
		close(w.finished)
	})
	return w.record, err
}
