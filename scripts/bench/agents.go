package bench

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/agora-cluster/agora/agent"
	"github.com/agora-cluster/agora/agent/launcher"
	"github.com/agora-cluster/agora/sdk/wire"
)

// agentSet is a group of agents the benchmark started, in this process
// or in a child process.
type agentSet interface {
	// count is the number of agents.
	count() int
	// registeredAt returns how many agents are registered with a leader
	// of term ≥ term, and, once all are, the wall-clock time the last one
	// was seen registered (zero before).
	registeredAt(term uint64) (int, time.Time)
	// usage returns the resident memory and CPU seconds of the set's
	// process, if it has one of its own.
	usage() (rss uint64, cpu float64, ok bool)
	close()
}

// agentSpec is what every agent of a run shares.
type agentSpec struct {
	natsURLs  []string
	dir       string
	first     int // index of the first agent (hostnames)
	n         int
	resources wire.Resources
	simulated bool
	log       *slog.Logger
}

// localAgents are agents running in this process.
type localAgents struct {
	agents []*agent.Agent

	mu      sync.Mutex
	watch   uint64    // the term being watched
	allAt   time.Time // when all were first seen at ≥ watch
	stopped chan struct{}
	done    sync.WaitGroup
}

// startLocalAgents starts spec.n agents in parallel.
func startLocalAgents(ctx context.Context, spec agentSpec) (*localAgents, error) {
	la := &localAgents{agents: make([]*agent.Agent, spec.n), stopped: make(chan struct{})}
	work := make(chan int)
	errs := make(chan error, spec.n)
	var wg sync.WaitGroup
	for range min(16, spec.n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				a, err := startAgent(spec, i)
				if err != nil {
					errs <- err
					continue
				}
				la.agents[i] = a
			}
		}()
	}
feed:
	for i := range spec.n {
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		la.close()
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		la.close()
		return nil, err
	}
	la.done.Add(1)
	go la.poll()
	return la, nil
}

func startAgent(spec agentSpec, i int) (*agent.Agent, error) {
	name := fmt.Sprintf("bench-agent-%05d", spec.first+i)
	ac := agent.DefaultConfig()
	ac.WorkDir = filepath.Join(spec.dir, name)
	ac.Hostname = name
	ac.NATSURLs = spec.natsURLs
	ac.Resources = spec.resources
	ac.Logger = spec.log
	ac.KillGrace = time.Second
	ac.SandboxGCDelay = time.Minute
	if spec.simulated {
		ac.Executor = launcher.NewSimExecutor()
	}
	a, err := agent.Start(ac)
	if err != nil {
		return nil, fmt.Errorf("bench: start agent %s: %w", name, err)
	}
	return a, nil
}

func (la *localAgents) count() int { return len(la.agents) }

// poll notes, every 2 ms, when all agents have reached the watched term,
// so that re-registration is timed to within a few milliseconds.
func (la *localAgents) poll() {
	defer la.done.Done()
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-la.stopped:
			return
		case <-t.C:
		}
		la.mu.Lock()
		term, known := la.watch, !la.allAt.IsZero()
		la.mu.Unlock()
		if term == 0 || known {
			continue
		}
		if n := la.countAt(term); n == len(la.agents) {
			la.mu.Lock()
			if la.watch == term && la.allAt.IsZero() {
				la.allAt = time.Now()
			}
			la.mu.Unlock()
		}
	}
}

func (la *localAgents) countAt(term uint64) int {
	n := 0
	for _, a := range la.agents {
		if ok, li := a.Registered(); ok && li.Term >= term {
			n++
		}
	}
	return n
}

func (la *localAgents) registeredAt(term uint64) (int, time.Time) {
	la.mu.Lock()
	if la.watch != term {
		la.watch, la.allAt = term, time.Time{}
	}
	at := la.allAt
	la.mu.Unlock()
	n := la.countAt(term)
	if n == len(la.agents) && at.IsZero() {
		at = time.Now()
		la.mu.Lock()
		if la.watch == term && la.allAt.IsZero() {
			la.allAt = at
		}
		la.mu.Unlock()
	}
	return n, at
}

func (la *localAgents) usage() (uint64, float64, bool) { return 0, 0, false }

func (la *localAgents) close() {
	select {
	case <-la.stopped:
	default:
		close(la.stopped)
	}
	la.done.Wait()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for _, a := range la.agents {
		if a == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			a.Stop(true)
			<-sem
		}()
	}
	wg.Wait()
}

// allRegistered returns how many agents of sets are registered with a
// leader of term ≥ term and, once all are, when the last one was (zero
// before).
func allRegistered(sets []agentSet, term uint64) (n int, last time.Time) {
	all := true
	for _, s := range sets {
		k, at := s.registeredAt(term)
		n += k
		if at.IsZero() {
			all = false
		} else if at.After(last) {
			last = at
		}
	}
	if !all {
		return n, time.Time{}
	}
	return n, last
}

// registeredTenths returns when every set had a tenth, two tenths, ...
// and all of its agents registered with a leader of term ≥ term (zero: not
// every set had), or nil unless every set is a child process, which
// records these.
func registeredTenths(sets []agentSet, term uint64) []time.Time {
	var out []time.Time
	for _, s := range sets {
		c, ok := s.(*childAgents)
		if !ok {
			return nil
		}
		at := c.reachedAt(term)
		if out == nil {
			out = at
			continue
		}
		for i, t := range at {
			if t.IsZero() || out[i].IsZero() {
				out[i] = time.Time{}
			} else if t.After(out[i]) {
				out[i] = t
			}
		}
	}
	return out
}

// waitRegistered waits until every agent of every set is registered with
// a leader of term ≥ term, and returns when the last one was.
func waitRegistered(ctx context.Context, sets []agentSet, term uint64, progress func(n, total int)) (time.Time, error) {
	total := 0
	for _, s := range sets {
		total += s.count()
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		n, last := allRegistered(sets, term)
		if progress != nil {
			progress(n, total)
		}
		if !last.IsZero() {
			return last, nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("bench: %d of %d agents registered with term ≥ %d: %w", n, total, term, ctx.Err())
		case <-t.C:
		}
	}
}
