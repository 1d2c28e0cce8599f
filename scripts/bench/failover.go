package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// FailoverSample is one leader kill. Times are from the moment the kill
// began (the old leader stops acting at once; its raft and NATS server go
// down while KillLeader runs, which KilledMS says).
type FailoverSample struct {
	OldLeader string `json:"old_leader"`
	OldTerm   uint64 `json:"old_term"`
	NewLeader string `json:"new_leader"`
	NewTerm   uint64 `json:"new_term"`
	// KilledMS is how long KillLeader (shutting the old leader down) took.
	KilledMS float64 `json:"killed_ms"`
	// ElectedMS: a new leader acts.
	ElectedMS float64 `json:"elected_ms"`
	// ResubscribedMS: the first framework is subscribed with it.
	ResubscribedMS float64 `json:"resubscribed_ms"`
	// OffersResumeMS: the first OFFERS event of the new term reached a
	// framework.
	OffersResumeMS float64 `json:"offers_resume_ms"`
	// AgentsReregisteredMS: every agent is registered with the new term.
	AgentsReregisteredMS float64 `json:"agents_reregistered_ms"`
	// LaunchesResumeMS: the first task accepted after the kill reached
	// TASK_RUNNING.
	LaunchesResumeMS float64 `json:"launches_resume_ms"`
}

// FailoverResult is what the failover scenario measured.
type FailoverResult struct {
	Samples            []FailoverSample `json:"samples"`
	Elected            Latency          `json:"elected"`
	OffersResume       Latency          `json:"offers_resume"`
	AgentsReregistered Latency          `json:"agents_reregistered"`
	LaunchesResume     Latency          `json:"launches_resume"`
	// Rate is the launch rate asked for (tasks/s); Tasks is what came of
	// the tasks.
	Rate  float64    `json:"rate"`
	Tasks TaskCounts `json:"tasks"`
}

// recoveryTimeout bounds the wait for one failover's recovery.
const recoveryTimeout = 60 * time.Second

func runFailover(ctx context.Context, e *env, prof *profiler, res *Result) error {
	o := e.opts
	t := newTracker()
	fws, stop, err := startOffered(ctx, e, t, o.Frameworks, false)
	if err != nil {
		return err
	}
	defer stop()
	if err := prof.start(); err != nil {
		return err
	}
	defer prof.stop()
	genCtx, stopGen := context.WithCancel(ctx)
	var genWG sync.WaitGroup
	genWG.Add(1)
	go func() { defer genWG.Done(); generate(genCtx, fws, o.Rate) }()
	defer func() { stopGen(); genWG.Wait() }()

	r := &FailoverResult{Rate: o.Rate}
	if err := sleepCtx(ctx, o.Duration); err != nil {
		return err
	}
	for i := range o.Failovers {
		e.prog.set(true, "failover %d/%d: killing the leader", i+1, o.Failovers)
		s, idx, err := killAndRecover(ctx, e, t)
		if err != nil {
			return fmt.Errorf("bench: failover %d: %w", i+1, err)
		}
		r.Samples = append(r.Samples, s)
		if err := e.cl.RestartMaster(idx); err != nil {
			return fmt.Errorf("bench: restart master %d: %w", idx, err)
		}
		e.prog.set(true, "failover %d/%d: recovered in %.0f ms; load continues", i+1, o.Failovers, s.AgentsReregisteredMS)
		if err := sleepCtx(ctx, o.Duration); err != nil {
			return err
		}
	}
	stopGen()
	genWG.Wait()
	prof.stop()
	// Every launched task must end: wait for it (tasks run TaskDuration).
	e.prog.set(true, "load stopped; waiting for every task to end")
	err = poll(ctx, o.TaskDuration+2*time.Minute, func() bool {
		c := t.taskCounts(true)
		e.prog.set(false, "load stopped; %d tasks not yet ended, %d not yet launched", c.Lost, c.NotLaunched)
		return c.Lost == 0 && c.NotLaunched == 0
	})
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	r.Tasks = t.taskCounts(true)
	res.Config.Tasks = r.Tasks.Created
	r.summarize()
	res.Failover = r
	res.figure("failovers", float64(len(r.Samples)), "", "", nil)
	res.figure("new leader elected p50", r.Elected.P50, "ms", "", nil)
	res.figure("offers resume p50", r.OffersResume.P50, "ms", "≤ 1,000 ms", ptr(r.OffersResume.P50 <= 1000 && r.OffersResume.N > 0))
	res.figure("offers resume max", r.OffersResume.Max, "ms", "≤ 2,000 ms", ptr(r.OffersResume.Max <= 2000 && r.OffersResume.N > 0))
	res.figure("all agents re-registered p50", r.AgentsReregistered.P50, "ms", "", nil)
	res.figure("all agents re-registered max", r.AgentsReregistered.Max, "ms", "", nil)
	res.figure("launches resume p50", r.LaunchesResume.P50, "ms", "", nil)
	res.figure("tasks launched", float64(r.Tasks.Launched), fmt.Sprintf("at %.0f/s", o.Rate), "", nil)
	res.figure("tasks lost", float64(r.Tasks.Lost), "", "0", ptr(r.Tasks.Lost == 0))
	res.figure("tasks duplicated", float64(r.Tasks.Duplicated), "", "0", ptr(r.Tasks.Duplicated == 0))
	res.figure("tasks never launched", float64(r.Tasks.NotLaunched), "", "0", ptr(r.Tasks.NotLaunched == 0))
	res.figure("launches lost in a leader change, relaunched", float64(r.Tasks.Relaunched), "", "", nil)
	res.figure("launches lost on the way to their agent, relaunched", float64(r.Tasks.LaunchesLost), "", "", nil)
	return nil
}

func (r *FailoverResult) summarize() {
	var el, off, ag, run []time.Duration
	for _, s := range r.Samples {
		el = append(el, msDur(s.ElectedMS))
		if s.OffersResumeMS > 0 {
			off = append(off, msDur(s.OffersResumeMS))
		}
		ag = append(ag, msDur(s.AgentsReregisteredMS))
		if s.LaunchesResumeMS > 0 {
			run = append(run, msDur(s.LaunchesResumeMS))
		}
	}
	r.Elected, r.OffersResume, r.AgentsReregistered, r.LaunchesResume = Summarize(el), Summarize(off), Summarize(ag), Summarize(run)
}

func msDur(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

// killAndRecover kills the leader and times the recovery. It returns the
// sample and the index of the killed master.
func killAndRecover(ctx context.Context, e *env, t *tracker) (FailoverSample, int, error) {
	var s FailoverSample
	// The master restarted after the previous kill may have caused an
	// election: wait for a leader to kill.
	old, err := e.cl.WaitLeader(recoveryTimeout)
	if err != nil {
		return s, -1, fmt.Errorf("no leader to kill: %w", err)
	}
	s.OldLeader, s.OldTerm = old.Name(), old.Term()
	kill := time.Now()
	t.setMark(kill)
	idx := e.cl.KillLeader()
	if idx < 0 {
		return s, -1, errors.New("the leader changed before it could be killed")
	}
	s.KilledMS = ms(time.Since(kill))
	since := func(at time.Time) float64 { return ms(at.Sub(kill)) }
	// A new leader acts.
	err = poll(ctx, recoveryTimeout, func() bool {
		l := e.cl.Leader()
		if l != nil && l.Term() > s.OldTerm {
			s.NewLeader, s.NewTerm = l.Name(), l.Term()
			s.ElectedMS = since(time.Now())
			return true
		}
		return false
	})
	if err != nil {
		return s, idx, fmt.Errorf("no new leader: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, recoveryTimeout)
	defer cancel()
	at, err := waitRegistered(wctx, e.sets, s.NewTerm, func(n, total int) {
		e.prog.set(false, "re-registered %d/%d agents with term %d", n, total, s.NewTerm)
	})
	if err != nil {
		return s, idx, err
	}
	s.AgentsReregisteredMS = since(at)
	err = poll(ctx, recoveryTimeout, func() bool {
		t.mu.Lock()
		defer t.mu.Unlock()
		for term, at := range t.firstSubAt {
			if term > s.OldTerm && s.ResubscribedMS == 0 {
				s.ResubscribedMS = since(at)
			}
		}
		for term, at := range t.firstOffer {
			if term > s.OldTerm && s.OffersResumeMS == 0 {
				s.OffersResumeMS = since(at)
			}
		}
		if !t.firstRunMark.IsZero() {
			s.LaunchesResumeMS = since(t.firstRunMark)
		}
		return s.OffersResumeMS > 0 && s.LaunchesResumeMS > 0
	})
	if err != nil {
		return s, idx, fmt.Errorf("offers or launches did not resume: %w", err)
	}
	return s, idx, nil
}

// generate queues tasks at rate per second, spread over the frameworks,
// until ctx ends.
func generate(ctx context.Context, fws []*framework, rate float64) {
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	made, next := 0, 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		due := int(rate * time.Since(start).Seconds())
		for ; made < due; made++ {
			fws[next].addTasks(1)
			next = (next + 1) % len(fws)
		}
	}
}

// sleepCtx waits d (a measurement interval, not synchronisation) or until
// ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
