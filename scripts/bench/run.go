package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"
)

// Run runs one benchmark: it starts (or attaches to) the cluster, starts
// the agents, runs the scenario and returns what it measured. The cluster
// and agents it started are stopped before it returns.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	start := time.Now()
	if o.PprofAddr != "" {
		stop, err := servePprof(o.PprofAddr)
		if err != nil {
			return nil, err
		}
		defer stop()
	}
	res := newResult(&o)
	prog := newProgress(o.Progress, o.ProgressLines, o.Scenario)
	defer prog.clear()
	e, err := newEnv(ctx, &o, prog)
	if err != nil {
		return nil, err
	}
	defer e.close()
	res.Setup = e.setup
	prof := &profiler{cpu: o.CPUProfile, mem: o.MemProfile}
	defer prof.stop()
	switch o.Scenario {
	case ScenarioOffers:
		err = runOffers(ctx, e, prof, res)
	case ScenarioLaunch:
		err = runLaunch(ctx, e, prof, res)
	case ScenarioFailover:
		err = runFailover(ctx, e, prof, res)
	case ScenarioScale:
		err = runScale(ctx, e, prof, res)
	case ScenarioReal:
		err = runReal(ctx, e, prof, res)
	case ScenarioState:
		err = runState(ctx, e, prof, res)
	}
	if err != nil {
		return nil, err
	}
	if perr := prof.err(); perr != nil {
		res.note("profile: %v", perr)
	}
	res.ElapsedSeconds = round3(time.Since(start).Seconds())
	res.Machine.LoadAvgEnd = loadAvg()
	return res, nil
}

// profiler writes a CPU profile of a scenario's measured phase and a heap
// profile at its end. start and stop may be called more than once; only
// the first start and the first stop after it count.
type profiler struct {
	cpu, mem string

	mu      sync.Mutex
	f       *os.File
	started bool
	stopped bool
	e       error
}

func (p *profiler) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started || p.cpu == "" {
		p.started = true
		return nil
	}
	p.started = true
	f, err := os.Create(p.cpu)
	if err != nil {
		return fmt.Errorf("bench: cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("bench: cpu profile: %w", err)
	}
	p.f = f
	return nil
}

func (p *profiler) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.started || p.stopped {
		return
	}
	p.stopped = true
	if p.f != nil {
		pprof.StopCPUProfile()
		if err := p.f.Close(); err != nil {
			p.e = err
		}
	}
	if p.mem != "" {
		runtime.GC()
		f, err := os.Create(p.mem)
		if err != nil {
			p.e = err
			return
		}
		defer f.Close()
		if err := pprof.WriteHeapProfile(f); err != nil {
			p.e = err
		}
	}
}

func (p *profiler) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.e
}

// servePprof serves net/http/pprof on addr until stop is called.
func servePprof(addr string) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("bench: pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", httppprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", httppprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", httppprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", httppprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", httppprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() { _ = srv.Close() }, nil
}
