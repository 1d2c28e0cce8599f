package agent

import (
	"sync"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

// updateStream is the queue of one task's status updates. Only the head is
// in flight; the next is sent once the head is acknowledged, so a
// framework sees one task's updates in order.
type updateStream struct {
	queue   []wire.StatusUpdate
	nextTry time.Time
	backoff time.Duration
}

// updateManager keeps every status update until the framework's
// acknowledgement comes back through the master, resending with
// exponential backoff.
type updateManager struct {
	mu         sync.Mutex
	streams    map[taskKey]*updateStream
	send       func(wire.StatusUpdate)
	minBackoff time.Duration
	maxBackoff time.Duration
	now        func() time.Time
	onDone     func(taskKey) // a terminal update was acknowledged
	// persist, if set, checkpoints an update before it is first sent, and
	// persistAck an acknowledgement.
	persist    func(wire.StatusUpdate) error
	persistAck func(k taskKey, uuid string)
	// sent and resent count first sends and resends, if set.
	sent, resent func()
}

func newUpdateManager(send func(wire.StatusUpdate), minB, maxB time.Duration) *updateManager {
	return &updateManager{streams: map[taskKey]*updateStream{}, send: send, minBackoff: minB, maxBackoff: maxB, now: time.Now}
}

// add checkpoints and queues an update; it is sent at once if it is the
// task's only one.
func (u *updateManager) add(up wire.StatusUpdate) error {
	if u.persist != nil {
		if err := u.persist(up); err != nil {
			return err
		}
	}
	u.enqueue(up)
	return nil
}

// enqueue queues an update without checkpointing it (recovery replays
// updates that are already in the checkpoint).
func (u *updateManager) enqueue(up wire.StatusUpdate) {
	k := taskKey{up.FrameworkID, up.Status.TaskID}
	u.mu.Lock()
	s := u.streams[k]
	if s == nil {
		s = &updateStream{}
		u.streams[k] = s
	}
	s.queue = append(s.queue, up)
	head := len(s.queue) == 1
	if head {
		s.backoff = u.minBackoff
		s.nextTry = u.now().Add(s.backoff)
	}
	u.mu.Unlock()
	if head {
		if u.sent != nil {
			u.sent()
		}
		u.send(up)
	}
}

// ack removes the acknowledged head of a task's stream and sends the next.
// It reports whether the uuid matched the head.
func (u *updateManager) ack(k taskKey, uuid string) bool {
	u.mu.Lock()
	s := u.streams[k]
	if s == nil || len(s.queue) == 0 || s.queue[0].Status.UUID != uuid {
		u.mu.Unlock()
		return false
	}
	acked := s.queue[0]
	s.queue = s.queue[1:]
	if u.persistAck != nil {
		u.persistAck(k, uuid)
	}
	var next *wire.StatusUpdate
	if len(s.queue) > 0 {
		next = &s.queue[0]
		s.backoff = u.minBackoff
		s.nextTry = u.now().Add(s.backoff)
	} else {
		delete(u.streams, k)
	}
	u.mu.Unlock()
	if next != nil {
		if u.sent != nil {
			u.sent()
		}
		u.send(*next)
	}
	if acked.Status.State.Terminal() && u.onDone != nil {
		u.onDone(k)
	}
	return true
}

// retry resends heads whose backoff expired; with all set, every head is
// resent now (after a re-registration).
func (u *updateManager) retry(all bool) {
	now := u.now()
	var out []wire.StatusUpdate
	u.mu.Lock()
	for _, s := range u.streams {
		if len(s.queue) == 0 || (!all && now.Before(s.nextTry)) {
			continue
		}
		out = append(out, s.queue[0])
		if !all {
			s.backoff *= 2
			if s.backoff > u.maxBackoff {
				s.backoff = u.maxBackoff
			}
		}
		s.nextTry = now.Add(s.backoff)
	}
	u.mu.Unlock()
	for _, up := range out {
		if u.resent != nil {
			u.resent()
		}
		u.send(up)
	}
}

// pending reports whether a task has unacknowledged updates.
func (u *updateManager) pending(k taskKey) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.streams[k]
	return s != nil && len(s.queue) > 0
}

// snapshot returns every queued update, for compacting the checkpoint.
func (u *updateManager) snapshot() []wire.StatusUpdate {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []wire.StatusUpdate
	for _, s := range u.streams {
		out = append(out, s.queue...)
	}
	return out
}

// terminalUUID returns the UUID of the task's queued terminal update, or "".
func (u *updateManager) terminalUUID(k taskKey) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if s := u.streams[k]; s != nil {
		for _, up := range s.queue {
			if up.Status.State.Terminal() {
				return up.Status.UUID
			}
		}
	}
	return ""
}

// hasTerminal reports whether a terminal update for the task is queued.
func (u *updateManager) hasTerminal(k taskKey) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if s := u.streams[k]; s != nil {
		for _, up := range s.queue {
			if up.Status.State.Terminal() {
				return true
			}
		}
	}
	return false
}
