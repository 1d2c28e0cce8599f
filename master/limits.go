package master

import (
	"sync"

	"golang.org/x/time/rate"

	"github.com/agora-cluster/agora/sdk/wire"
)

// callLimiter bounds each framework's call rate (revive storms, runaway
// loops) with a token bucket per framework. Acknowledgements and
// heartbeats are not limited: they are cheap and dropping them would only
// cause resends.
type callLimiter struct {
	mu      sync.Mutex
	perSec  rate.Limit
	burst   int
	buckets map[wire.FrameworkID]*rate.Limiter
}

func newCallLimiter(perSec float64, burst int) *callLimiter {
	return &callLimiter{perSec: rate.Limit(perSec), burst: burst, buckets: map[wire.FrameworkID]*rate.Limiter{}}
}

// allow reports whether a call of type t from fw may proceed.
func (c *callLimiter) allow(fw wire.FrameworkID, t wire.Type) bool {
	if c == nil || c.perSec <= 0 || t == wire.TypeAcknowledge || t == wire.TypeAcknowledgements || t == wire.TypeHeartbeat {
		return true
	}
	c.mu.Lock()
	b := c.buckets[fw]
	if b == nil {
		if len(c.buckets) > 100000 {
			clear(c.buckets) // bounded: forget idle frameworks' buckets
		}
		b = rate.NewLimiter(c.perSec, c.burst)
		c.buckets[fw] = b
	}
	c.mu.Unlock()
	return b.Allow()
}
