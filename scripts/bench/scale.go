package bench

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/sdk/wire"
)

// SteadyUsage is what the process hosting the masters used over a steady
// interval: this process, or when attached the leader's, read from its
// /metrics.
type SteadyUsage struct {
	IntervalSeconds float64 `json:"interval_seconds"`
	// What says what the figures cover.
	What string `json:"what"`
	// RSSMB is the resident memory at the end of the interval (VmRSS, or
	// the leader's process_resident_memory_bytes when attached);
	// MaxRSSMB the highest seen (sampled every second; attached, every 5 s).
	RSSMB    float64 `json:"rss_mb"`
	MaxRSSMB float64 `json:"max_rss_mb"`
	// CPUCores is getrusage user+system time (attached: the leader's
	// process_cpu_seconds_total) over the interval divided by its length.
	CPUCores float64 `json:"cpu_cores"`
	// Go runtime figures (runtime.MemStats) of the same process.
	HeapInuseMB float64 `json:"heap_inuse_mb"`
	// HeapRetainedMB is free heap the runtime has not yet returned to the
	// OS; StackInuseMB the goroutine stacks (the embedded NATS server runs
	// two goroutines per client connection).
	HeapRetainedMB float64 `json:"heap_retained_mb"`
	StackInuseMB   float64 `json:"stack_inuse_mb"`
	GoSysMB        float64 `json:"go_sys_mb"`
	Goroutines     int     `json:"goroutines"`
	// Agent child processes, when there are any: their summed RSS and CPU.
	AgentProcsRSSMB    float64 `json:"agent_procs_rss_mb,omitempty"`
	AgentProcsCPUCores float64 `json:"agent_procs_cpu_cores,omitempty"`
	// AgentProcsNice is the niceness the agent processes reported
	// (--agent-nice; the highest, should they differ).
	AgentProcsNice int `json:"agent_procs_nice,omitempty"`
	// LeaderChanges is how many terms passed during the interval (the
	// allocation passes are then not reported: they span masters).
	LeaderChanges uint64 `json:"leader_changes,omitempty"`
	// AllRegisteredAt is, for each term that began during the interval,
	// when every agent was registered with its leader or a later one (to
	// time a leader killed from outside, e.g. by scripts/failover-10k.sh).
	AllRegisteredAt map[uint64]time.Time `json:"all_registered_at,omitempty"`
	// RegisteredTenths is, for the same terms, when every agent process
	// had a tenth, two tenths, ... and all of its agents registered with
	// that leader or a later one (agents in child processes only; a zero
	// time: not reached).
	RegisteredTenths map[uint64][]time.Time `json:"registered_tenths,omitempty"`
}

// ScaleResult is what the scale scenario measured.
type ScaleResult struct {
	Agents       int `json:"agents"`
	RunningTasks int `json:"running_tasks"`
	// Launch is how the tasks got running.
	Launch *LaunchResult `json:"launch"`
	Steady SteadyUsage   `json:"steady"`
	// AllocationPass is the master's histogram over the steady interval:
	// the periodic full passes (every agent's resources are filtered for
	// the framework, which declined them for an hour).
	AllocationPass HistogramSummary `json:"allocation_pass"`
	// ReviveToOffers is from a REVIVE call to the OFFERS event it causes
	// (a full pass over every agent, seen from outside), and Offers the
	// offers that event carried.
	ReviveToOffers Latency `json:"revive_to_offers"`
	OffersPerPass  int     `json:"offers_per_pass"`
	// RevivesWithoutLeader counts probes whose REVIVE no leader answered
	// (a leader change under way); they are not in ReviveToOffers.
	RevivesWithoutLeader int `json:"revives_without_leader,omitempty"`
	// Failover, with three masters: one leader kill under this load.
	Failover *FailoverSample `json:"failover,omitempty"`
	Tasks    TaskCounts      `json:"tasks"`
	// StatePolling, with --poll-state, is what the goroutines polling
	// the leader's /api/v1/state over the steady interval and the REVIVE
	// probes saw (their load is in the steady figures).
	StatePolling *StatePollResult `json:"state_polling,omitempty"`
}

func runScale(ctx context.Context, e *env, prof *profiler, res *Result) error {
	o := e.opts
	t := newTracker()
	t.relaunchEnded = true // the run wants its tasks running
	fws, stop, err := startOffered(ctx, e, t, o.Frameworks, e.cl == nil)
	if err != nil {
		return err
	}
	defer stop()
	r := &ScaleResult{Agents: e.agentCount()}
	if r.Launch, err = launchAll(ctx, e, t, fws, o.Tasks, "scale: launching"); err != nil {
		return err
	}
	r.RunningTasks = t.counts().running
	// Steady state: the frameworks want nothing more; they decline what
	// they hold, and every later offer, for an hour.
	for _, f := range fws {
		f.mode.Store(int32(modeDecline))
		if err := declineAll(ctx, f, f.takeAllOffers()); err != nil {
			return err
		}
	}
	e.prog.set(true, "scale: %d tasks running on %d agents; settling", r.RunningTasks, r.Agents)
	// Settle (the declines land, the launch's garbage is collected), and
	// leave the same gap between REVIVE probes.
	settle := 3 * time.Second
	if o.Fast {
		settle = 200 * time.Millisecond
	}
	if err := sleepCtx(ctx, settle); err != nil {
		return err
	}
	if err := prof.start(); err != nil {
		return err
	}
	var sp *statePoller
	if o.PollState > 0 {
		if sp, err = startStatePolling(ctx, e, o.PollState, 0, "scale: "); err != nil {
			return err
		}
		defer sp.stop()
	}
	if r.Steady, r.AllocationPass, err = steady(ctx, e, o.Duration); err != nil {
		return err
	}
	// REVIVE → OFFERS: a full pass over every agent, timed from outside.
	var probes []time.Duration
	for i := range o.Revives {
		e.prog.set(true, "scale: revive probe %d/%d", i+1, o.Revives)
		d, n, err := reviveProbe(ctx, t, fws[0])
		switch {
		case err != nil && ctx.Err() == nil && errors.Is(err, nats.ErrNoResponders):
			r.RevivesWithoutLeader++
			e.log.Warn("REVIVE probe found no leader", "err", err)
		case err != nil:
			return err
		default:
			probes = append(probes, d)
			r.OffersPerPass = n
		}
		if err := sleepCtx(ctx, settle); err != nil {
			return err
		}
	}
	if sp != nil {
		r.StatePolling = ptr(sp.stop())
	}
	prof.stop()
	r.ReviveToOffers = Summarize(probes)
	if o.Masters == 3 && e.cl != nil {
		e.prog.set(true, "scale: killing the leader")
		s, idx, err := killAndRecoverIdle(ctx, e, t)
		if err != nil {
			return err
		}
		r.Failover = &s
		if err := e.cl.RestartMaster(idx); err != nil {
			return err
		}
	}
	r.Tasks = t.taskCounts(false)
	res.Scale = r
	st := r.Steady
	res.figure("agents", float64(r.Agents), "", "", nil)
	res.figure("running tasks", float64(r.RunningTasks), "", "", nil)
	res.figure("launch throughput", r.Launch.TasksPerSecond, "tasks/s", "", nil)
	for _, k := range slices.Sorted(maps.Keys(r.Launch.Tasks.LaunchesLostBy)) {
		res.figure("tasks ended before running ("+k+"), launched again", float64(r.Launch.Tasks.LaunchesLostBy[k]), "", "", nil)
	}
	res.figure("RSS (steady)", st.RSSMB, "MB", "≤ 1,024 MB (10,000 agents, 100,000 tasks)", ptr(st.MaxRSSMB <= 1024))
	res.figure("Go heap in use (steady)", st.HeapInuseMB, "MB", "", nil)
	res.figure("Go heap free, not yet returned (steady)", st.HeapRetainedMB, "MB", "", nil)
	res.figure("goroutine stacks (steady)", st.StackInuseMB, fmt.Sprintf("MB (%d goroutines)", st.Goroutines), "", nil)
	res.figure("CPU (steady)", st.CPUCores, "cores", "≤ 1 core", ptr(st.CPUCores <= 1))
	if st.LeaderChanges > 0 {
		res.figure("leader changes (steady)", float64(st.LeaderChanges), "", "", nil)
	}
	if st.AgentProcsRSSMB > 0 {
		res.figure("agent processes RSS", st.AgentProcsRSSMB, "MB", "", nil)
		res.figure("agent processes CPU", st.AgentProcsCPUCores, "cores", "", nil)
		if st.AgentProcsNice > 0 {
			res.figure("agent processes niceness", float64(st.AgentProcsNice), "", "", nil)
		}
	}
	res.figure("allocation pass, mean (steady)", r.AllocationPass.MeanMS, "ms", "", nil)
	res.figure("allocation pass, p99 ≤ (steady)", r.AllocationPass.P99LeMS, "ms", "", nil)
	res.figure("REVIVE → OFFERS p50", r.ReviveToOffers.P50, "ms", "", nil)
	res.figure("offers per full pass", float64(r.OffersPerPass), "", "", nil)
	if r.RevivesWithoutLeader > 0 {
		res.figure("REVIVE probes that found no leader", float64(r.RevivesWithoutLeader), "", "", nil)
	}
	if r.StatePolling != nil {
		stateFigures(res, "while steady: ", *r.StatePolling)
	}
	if f := r.Failover; f != nil {
		res.figure("failover: all agents re-registered", f.AgentsReregisteredMS, "ms", "≤ 5,000 ms", ptr(f.AgentsReregisteredMS <= 5000))
		res.figure("failover: offers resume", f.OffersResumeMS, "ms", "", nil)
	}
	return nil
}

// declineAll declines offers for an hour, in calls of at most 5,000.
func declineAll(ctx context.Context, f *framework, ids []wire.OfferID) error {
	for len(ids) > 0 {
		n := min(len(ids), 5000)
		if err := f.drv.Decline(ctx, ids[:n], 3600); err != nil {
			return fmt.Errorf("bench: decline: %w", err)
		}
		ids = ids[n:]
	}
	return nil
}

// steady measures the process's usage, the agent processes' and the
// master's allocation passes over d.
func steady(ctx context.Context, e *env, d time.Duration) (SteadyUsage, HistogramSummary, error) {
	var u SteadyUsage
	li0, h0, err := e.awaitLeaderMetrics(ctx)
	if err != nil {
		return u, HistogramSummary{}, err
	}
	sample, sampleEvery := sampleSelf, 1
	if e.cl == nil {
		// A scrape of the leader's /metrics costs it more than reading
		// /proc costs this process: every 5 s.
		sampleEvery = 5
		// Attached: the masters run elsewhere; measure the leader's process.
		sample = func() (usageSample, error) {
			_, _, plain, err := e.scrapeLeader(ctx)
			if err != nil {
				return usageSample{}, err
			}
			return metricsSample(time.Now(), plain)
		}
	}
	s0, err := sample()
	if err != nil {
		return u, HistogramSummary{}, err
	}
	c0 := agentProcsCPU(e)
	var maxRSS uint64
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	end := time.Now().Add(d)
	for n := 1; time.Now().Before(end); n++ {
		select {
		case <-ctx.Done():
			return u, HistogramSummary{}, ctx.Err()
		case <-tick.C:
		}
		if n%sampleEvery == 0 {
			if s, err := sample(); err == nil && s.rss > maxRSS {
				maxRSS = s.rss
			}
		}
		e.prog.set(false, "scale: steady interval, %.0f s left", time.Until(end).Seconds())
	}
	s1, err := sample()
	if err != nil {
		return u, HistogramSummary{}, err
	}
	c1 := agentProcsCPU(e)
	li1, h1, err := e.awaitLeaderMetrics(ctx)
	if err != nil {
		return u, HistogramSummary{}, err
	}
	wall := s1.at.Sub(s0.at).Seconds()
	u = SteadyUsage{
		IntervalSeconds: round3(wall),
		What:            whatSteady(e),
		RSSMB:           mb(s1.rss),
		MaxRSSMB:        mb(max(maxRSS, s1.rss)),
		CPUCores:        round3(cores(s0, s1)),
		HeapInuseMB:     mb(s1.mem.HeapInuse),
		HeapRetainedMB:  mb(s1.mem.HeapIdle - s1.mem.HeapReleased),
		StackInuseMB:    mb(s1.mem.StackInuse),
		GoSysMB:         mb(s1.mem.Sys),
		Goroutines:      s1.goroutines,
	}
	for _, s := range e.sets {
		if rss, _, ok := s.usage(); ok {
			u.AgentProcsRSSMB += mb(rss)
		}
		if c, ok := s.(*childAgents); ok {
			u.AgentProcsNice = max(u.AgentProcsNice, c.niceness())
		}
	}
	u.AgentProcsRSSMB = round3(u.AgentProcsRSSMB)
	if c1 > 0 && wall > 0 {
		u.AgentProcsCPUCores = round3((c1 - c0) / wall)
	}
	if li1.Term != li0.Term {
		u.LeaderChanges = li1.Term - li0.Term
		for term := li0.Term + 1; term <= li1.Term; term++ {
			if _, at := allRegistered(e.sets, term); !at.IsZero() {
				if u.AllRegisteredAt == nil {
					u.AllRegisteredAt = map[uint64]time.Time{}
				}
				u.AllRegisteredAt[term] = at
			}
			if tenths := registeredTenths(e.sets, term); tenths != nil {
				if u.RegisteredTenths == nil {
					u.RegisteredTenths = map[uint64][]time.Time{}
				}
				u.RegisteredTenths[term] = tenths
			}
		}
		return u, HistogramSummary{}, nil
	}
	pass := h1["agora_master_allocation_pass_seconds"].minus(h0["agora_master_allocation_pass_seconds"]).summary()
	return u, pass, nil
}

func whatSteady(e *env) string {
	switch {
	case e.cl == nil:
		return "the leader master's process, from its /metrics (process_resident_memory_bytes, process_cpu_seconds_total, go_memstats_*), sampled every 5 s"
	case e.opts.agentProcs() > 0:
		return fmt.Sprintf("this process: %d master(s), their embedded NATS servers and the benchmark frameworks; agents in %d child processes", e.opts.Masters, e.opts.agentProcs())
	default:
		return fmt.Sprintf("this process: %d master(s), their embedded NATS servers, the benchmark frameworks and all %d agents", e.opts.Masters, e.opts.Agents)
	}
}

func agentProcsCPU(e *env) float64 {
	total := 0.0
	for _, s := range e.sets {
		if _, cpu, ok := s.usage(); ok {
			total += cpu
		}
	}
	return total
}

func mb(b uint64) float64 { return round3(float64(b) / (1 << 20)) }

// reviveProbe revives a framework that declined everything and times the
// OFFERS event that follows (the framework declines those offers again).
func reviveProbe(ctx context.Context, t *tracker, f *framework) (time.Duration, int, error) {
	t.mu.Lock()
	seen := t.offersSeen
	t.mu.Unlock()
	ch := t.nextOffers()
	start := time.Now()
	if err := f.drv.Revive(ctx); err != nil {
		return 0, 0, fmt.Errorf("bench: revive: %w", err)
	}
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case at := <-ch:
		t.mu.Lock()
		n := t.offersSeen - seen
		t.mu.Unlock()
		return at.Sub(start), n, nil
	case <-timer.C:
		return 0, 0, fmt.Errorf("bench: no offers within 30 s of REVIVE")
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
}

// killAndRecoverIdle kills the leader and times the agents'
// re-registration and the first offers of the new term.
func killAndRecoverIdle(ctx context.Context, e *env, t *tracker) (FailoverSample, int, error) {
	old, err := e.cl.WaitLeader(recoveryTimeout)
	if err != nil {
		return FailoverSample{}, -1, fmt.Errorf("bench: no leader to kill: %w", err)
	}
	oldTerm := old.Term()
	// The new leader's allocator starts without the frameworks' filters:
	// it offers every re-registered agent's free resources again.
	kill := time.Now()
	idx := e.cl.KillLeader()
	s := FailoverSample{OldLeader: old.Name(), OldTerm: oldTerm, KilledMS: ms(time.Since(kill))}
	err = poll(ctx, recoveryTimeout, func() bool {
		l := e.cl.Leader()
		if l != nil && l.Term() > oldTerm {
			s.NewLeader, s.NewTerm, s.ElectedMS = l.Name(), l.Term(), ms(time.Since(kill))
			return true
		}
		return false
	})
	if err != nil {
		return s, idx, fmt.Errorf("bench: no new leader: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, recoveryTimeout)
	defer cancel()
	at, err := waitRegistered(wctx, e.sets, s.NewTerm, func(n, total int) {
		e.prog.set(false, "scale: re-registered %d/%d agents", n, total)
	})
	if err != nil {
		return s, idx, err
	}
	s.AgentsReregisteredMS = ms(at.Sub(kill))
	if err := poll(ctx, recoveryTimeout, func() bool {
		at, ok := t.firstOfferAfter(oldTerm)
		if ok {
			s.OffersResumeMS = ms(at.Sub(kill))
		}
		return ok
	}); err != nil {
		e.log.Warn("no offers after failover", "err", err)
	}
	return s, idx, nil
}
