package sdk

import (
	"context"
	"sync"
	"time"
)

// leaderChangeGrace is how long calls still wait for their answer once a
// newer leader has announced itself. A call the new leader received (sent
// just before its announcement reached the driver) is answered within it;
// one the old leader held when it died is never answered.
const leaderChangeGrace = 500 * time.Millisecond

// callTerms binds every call to the newest leader term the driver has
// heard of when the call is sent. When a newer leader announces itself,
// the calls of the older terms still unanswered leaderChangeGrace later
// end with ErrLeaderChanged, rather than at CallTimeout: a launch that was
// in the hands of a leader that died is then known to be in doubt within
// a second of the failover, not after the full timeout.
type callTerms struct {
	mu   sync.Mutex
	term uint64
	ctx  context.Context // the current term's calls; ended with ErrLeaderChanged
	end  context.CancelCauseFunc
}

func newCallTerms() *callTerms {
	ctx, end := context.WithCancelCause(context.Background())
	return &callTerms{ctx: ctx, end: end}
}

// current is the context of the calls sent now.
func (c *callTerms) current() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ctx
}

// newest is the newest leader term heard of.
func (c *callTerms) newest() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.term
}

// heard notes a term a leader announced or answered in. The first term
// heard only sets the baseline: calls sent before it went to whoever
// leads, and that leader announced nothing newer.
func (c *callTerms) heard(term uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if term <= c.term {
		return
	}
	first := c.term == 0
	c.term = term
	if first {
		return
	}
	end := c.end
	c.ctx, c.end = context.WithCancelCause(context.Background())
	time.AfterFunc(leaderChangeGrace, func() { end(ErrLeaderChanged) })
}
