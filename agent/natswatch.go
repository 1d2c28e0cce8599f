package agent

import (
	"errors"
	"time"

	"github.com/nats-io/nats.go"
)

// The NATS client's own check of a silent server (PINGs, and a reconnect
// after MaxPingsOutstanding unanswered ones) is fixed when it connects,
// before the agent knows how large its cluster is. The agent checks
// instead, with a tolerance that grows with the heartbeat interval the
// leader asks for: a small cluster's agent leaves a silent server within
// seconds, and in a cluster of thousands of agents, where a NATS server
// that just took over another's clients can stall for seconds, its agents
// do not all leave it for another server at once and stall that one in
// turn.

// minStaleAfter is how long a server may leave a PING unanswered before
// the agent moves to another: the NATS client's 1 s × 3 PINGs it replaces.
const minStaleAfter = 3 * time.Second

// libraryPingInterval is the NATS client's own PING interval: long, since
// natsWatchLoop does the checking.
const libraryPingInterval = time.Minute

// staleAfter is the silence after which the agent leaves its NATS server,
// for agents heartbeating every heartbeat: two heartbeat intervals, at
// least minStaleAfter. By default the leader marks an agent unreachable
// after five intervals (its agent timeout scales with the interval), so
// the agent has moved to a live server well before.
func staleAfter(heartbeat time.Duration) time.Duration {
	return max(minStaleAfter, 2*heartbeat)
}

// natsWatchLoop looks at the agent's NATS server three times per
// staleAfter (every second in a small cluster) and reconnects (to another
// server of the list, if there is one) when a PING goes unanswered for
// staleAfter. A server that delivered a message since the last look (the
// leader announces itself every second in a small cluster, every few
// seconds in a large one) has shown it is alive: it is not PINGed, which
// spares the servers of a large cluster thousands of PINGs a second.
func (a *Agent) natsWatchLoop() {
	var seen uint64
	for {
		a.mu.Lock()
		tolerance := staleAfter(a.heartbeatEvery)
		a.mu.Unlock()
		select {
		case <-a.ctx.Done():
			return
		case <-time.After(tolerance / 3):
		}
		if a.nc.Status() != nats.CONNECTED {
			continue
		}
		if in := a.nc.Stats().InMsgs; in != seen {
			seen = in
			continue
		}
		err := a.nc.FlushTimeout(tolerance)
		if !errors.Is(err, nats.ErrTimeout) || a.ctx.Err() != nil || a.nc.Status() != nats.CONNECTED {
			continue
		}
		a.log.Warn("NATS server silent; reconnecting", "server", a.nc.ConnectedUrlRedacted(), "silent_for", tolerance)
		if err := a.nc.ForceReconnect(); err != nil {
			a.log.Debug("NATS reconnect", "err", err)
		}
	}
}
