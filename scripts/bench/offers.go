package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

// OffersResult is what the offers scenario measured.
type OffersResult struct {
	// Latency is from just before a DECLINE (refuse_seconds 0) is sent to
	// the OFFERS event with the same agent's resources reaching a
	// framework's Offers callback.
	Latency Latency `json:"latency"`
	// Missed samples saw no offer within 5 s (or the DECLINE failed).
	Missed int `json:"missed"`
	// RateLimited of the missed samples had their DECLINE refused as over
	// the framework's call rate (the master's CallRate: 2,000 calls/s per
	// framework by default, with a burst of 4,000), as happens in long
	// runs at over 20,000 samples/s across 10 frameworks.
	RateLimited int `json:"rate_limited,omitempty"`
	// MasterOfferLatency is the master's own view (its histogram
	// agora_master_offer_latency_seconds over the run): from the event
	// that freed resources to the offers being published.
	MasterOfferLatency HistogramSummary `json:"master_offer_latency"`
	// AllocationPass is the master's agora_master_allocation_pass_seconds
	// over the run.
	AllocationPass HistogramSummary `json:"allocation_pass"`
	// SamplesPerSecond is the rate samples were taken at.
	SamplesPerSecond float64 `json:"samples_per_second"`
	// StatePolling, with --poll-state, is what the goroutines polling
	// the leader's /api/v1/state during the samples saw.
	StatePolling *StatePollResult `json:"state_polling,omitempty"`
}

// offerTimeout bounds one offer-latency sample.
const offerTimeout = 5 * time.Second

func runOffers(ctx context.Context, e *env, prof *profiler, res *Result) error {
	o := e.opts
	t := newTracker()
	fws, stop, err := startOffered(ctx, e, t, o.Frameworks, e.cl == nil)
	if err != nil {
		return err
	}
	defer stop()
	if err := prof.start(); err != nil {
		return err
	}
	var sp *statePoller
	if o.PollState > 0 {
		if sp, err = startStatePolling(ctx, e, o.PollState, 0, "offers: "); err != nil {
			return err
		}
	}
	r := offerPhase(ctx, e, t, fws, o.Samples, 0, "samples", res)
	if sp != nil {
		r.StatePolling = ptr(sp.stop())
	}
	prof.stop()
	if err := ctx.Err(); err != nil {
		return err
	}
	res.Offers = r
	p99 := r.Latency.P99
	res.figure("offer latency p50", r.Latency.P50, "ms", "", nil)
	res.figure("offer latency p99", p99, "ms", "≤ 2 ms (1,000 agents, 10 frameworks)", ptr(p99 <= 2))
	res.figure("offer latency max", r.Latency.Max, "ms", "", nil)
	res.figure("samples (missed)", float64(r.Latency.N), fmt.Sprintf("(%d missed)", r.Missed), "", nil)
	if r.RateLimited > 0 {
		res.note("%d samples missed because the master refused their DECLINE as over the framework's call rate", r.RateLimited)
	}
	res.figure("master: event → offers published, mean", r.MasterOfferLatency.MeanMS, "ms", "", nil)
	res.figure("master: allocation pass, mean", r.AllocationPass.MeanMS, "ms", "", nil)
	if r.StatePolling != nil {
		stateFigures(res, "while offers measured: ", *r.StatePolling)
	}
	return nil
}

// offerPhase takes n offer-latency samples with Concurrency DECLINEs
// outstanding (or as many as it can within bound, if bound > 0), and
// reads the master's histograms over them; what labels the progress
// line. A failed metrics read is noted in res.
func offerPhase(ctx context.Context, e *env, t *tracker, fws []*framework, n int, bound time.Duration, what string, res *Result) *OffersResult {
	o := e.opts
	h0, _, _ := e.leaderMetrics(ctx)
	var (
		mu      sync.Mutex
		samples []time.Duration
		missed  int
		limited int
		left    atomic.Int64
	)
	left.Store(int64(n))
	start := time.Now()
	var deadline time.Time
	if bound > 0 {
		deadline = start.Add(bound)
	}
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				d, err := offerSample(ctx, t, fws)
				mu.Lock()
				if err == nil {
					samples = append(samples, d)
				} else {
					missed++
					if rateLimited(err) {
						limited++
					}
				}
				done := len(samples) + missed
				mu.Unlock()
				e.prog.set(false, "%s %d/%d", what, done, n)
				if ctx.Err() != nil || (!deadline.IsZero() && time.Now().After(deadline)) {
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if done := len(samples) + missed; done < n && ctx.Err() == nil {
		res.note("%s: %d of %d samples taken within %s", what, done, n, bound)
	}
	r := &OffersResult{Latency: Summarize(samples), Missed: missed, RateLimited: limited, SamplesPerSecond: round3(float64(len(samples)) / elapsed.Seconds())}
	if ctx.Err() != nil {
		return r
	}
	h1, _, err := e.leaderMetrics(ctx)
	if err == nil {
		r.MasterOfferLatency = h1["agora_master_offer_latency_seconds"].minus(h0["agora_master_offer_latency_seconds"]).summary()
		r.AllocationPass = h1["agora_master_allocation_pass_seconds"].minus(h0["agora_master_allocation_pass_seconds"]).summary()
	} else {
		res.note("master metrics unavailable: %v", err)
	}
	return r
}

// rateLimited reports whether the master refused a call as over the
// framework's call rate.
func rateLimited(err error) bool {
	var we *wire.Error
	return errors.As(err, &we) && we.Code == wire.CodeRateLimited
}

// errNoOffer: no offer came within offerTimeout.
var errNoOffer = errors.New("bench: no offer")

// offerSample declines one held offer with refuse_seconds 0 and waits for
// the same agent's resources to be offered again (to any framework). It
// waits for an offer to decline if none is held right now. An error says
// why no sample was taken.
func offerSample(ctx context.Context, t *tracker, fws []*framework) (time.Duration, error) {
	var f *framework
	var off wire.Offer
	err := poll(ctx, offerTimeout, func() bool {
		k := rand.IntN(len(fws))
		for i := range fws {
			f = fws[(k+i)%len(fws)]
			var got bool
			if off, got = f.takeOffer(); got {
				return true
			}
		}
		return false
	})
	if err != nil {
		return 0, err
	}
	ch := t.expectOffer(off.AgentID)
	t0 := time.Now()
	if err := f.drv.Decline(ctx, []wire.OfferID{off.ID}, 0); err != nil {
		t.forget(off.AgentID)
		if rateLimited(err) {
			// No sample, but the offer must still go back, or its agent is
			// lost to the run until the master's offer timeout.
			_ = poll(ctx, offerTimeout, func() bool { return f.drv.Decline(ctx, []wire.OfferID{off.ID}, 0) == nil })
		}
		return 0, err
	}
	timer := time.NewTimer(offerTimeout)
	defer timer.Stop()
	select {
	case at := <-ch:
		return at.Sub(t0), nil
	case <-timer.C:
	case <-ctx.Done():
	}
	t.forget(off.AgentID)
	return 0, errNoOffer
}

// waitOffered waits until the frameworks hold offers for every agent the
// run started (each agent's resources are offered whole, to one
// framework).
func waitOffered(ctx context.Context, e *env, fws []*framework) error {
	held, want, err := awaitOffered(ctx, e, fws, 2*time.Minute, "offers held")
	if err != nil {
		return fmt.Errorf("bench: offers for %d of %d agents: %w", held, want, err)
	}
	return nil
}

// awaitOffered polls, for at most bound, until the frameworks hold offers
// for every agent; it returns how many they held last, and how many it
// waited for. what labels the progress line.
func awaitOffered(ctx context.Context, e *env, fws []*framework, bound time.Duration, what string) (held, want int, err error) {
	want = e.agentCount()
	err = poll(ctx, bound, func() bool {
		held = 0
		for _, f := range fws {
			f.mu.Lock()
			held += len(f.held)
			f.mu.Unlock()
		}
		e.prog.set(false, "%s for %d/%d agents", what, held, want)
		return held >= want
	})
	return held, want, err
}
