package master

import (
	"context"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

// checkFrameworks disconnects frameworks that stopped heartbeating and
// removes those disconnected for longer than their failover timeout
// (killing their tasks). A framework that never re-subscribed after an
// election counts as disconnected since the election.
func (l *leader) checkFrameworks() {
	now := l.m.now()
	// Drivers heartbeat several times an interval; five intervals of
	// silence (at least a second) mean the framework is gone.
	silence := max(5*l.m.cfg.FrameworkHeartbeatInterval, time.Second)
	var disconnected, expired []wire.FrameworkID
	l.mu.Lock()
	for id, f := range l.frameworks {
		switch {
		case f.connected && now.Sub(f.lastSeen) > silence:
			f.connected = false
			f.disconnectedAt = now
			for oid, o := range f.offers {
				l.rescind(oid, o)
			}
			l.alloc.SetFrameworkActive(id, false)
			disconnected = append(disconnected, id)
		case !f.connected && !f.removing:
			since, limit := f.disconnectedAt, f.info.FailoverTimeout.D()
			if since.IsZero() {
				// Not seen since the election: it gets at least the
				// re-registration window to come back.
				since, limit = l.electedClock, max(limit, l.m.cfg.FrameworkReregisterTimeout)
			}
			if now.Sub(since) > limit {
				f.removing = true
				expired = append(expired, id)
			}
		}
	}
	l.mu.Unlock()
	for _, id := range disconnected {
		l.log.Warn("framework disconnected", "framework", id)
		if err := l.write(func(ctx context.Context) error { return l.m.applyFrameworkDisconnected(ctx, id, now) }); err != nil {
			l.log.Warn("cannot record framework disconnection", "framework", id, "err", err)
		}
	}
	for _, id := range expired {
		l.log.Warn("framework failover timeout passed; removing it and killing its tasks", "framework", id)
		if err := l.teardown(id); err != nil {
			l.log.Warn("removing framework", "framework", id, "err", err)
			l.mu.Lock()
			if f := l.frameworks[id]; f != nil {
				f.removing = false
			}
			l.mu.Unlock()
		}
	}
}
