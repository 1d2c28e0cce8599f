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
// exponential backoff. Updates made together (a launch of many tasks) and
// acknowledgements that arrive together are checkpointed in one write and
// sent in one batch.
type updateManager struct {
	mu         sync.Mutex
	streams    map[taskKey]*updateStream
	send       func([]wire.StatusUpdate)
	minBackoff time.Duration
	maxBackoff time.Duration
	now        func() time.Time
	onDone     func([]taskKey) // terminal updates were acknowledged
	// persist, if set, checkpoints updates before they are first sent,
	// and persistAck acknowledgements.
	persist    func([]wire.StatusUpdate) error
	persistAck func([]wire.StatusAck)
	// sent and resent count first sends and resends, if set.
	sent, resent func(n int)
	// queued is signalled when a head is sent for the first time: the
	// retry loop, idle while nothing waits for an acknowledgement, then
	// sets its timer.
	queued chan struct{}
}

func newUpdateManager(send func([]wire.StatusUpdate), minB, maxB time.Duration) *updateManager {
	return &updateManager{streams: map[taskKey]*updateStream{}, send: send, minBackoff: minB, maxBackoff: maxB, now: time.Now,
		queued: make(chan struct{}, 1)}
}

// signalQueued wakes the retry loop (without blocking: one pending signal
// is enough).
func (u *updateManager) signalQueued() {
	select {
	case u.queued <- struct{}{}:
	default:
	}
}

// add checkpoints and queues updates, in order; each is sent at once if
// it is its task's only one.
func (u *updateManager) add(ups ...wire.StatusUpdate) error {
	if u.persist != nil {
		if err := u.persist(ups); err != nil {
			return err
		}
	}
	u.enqueue(ups...)
	return nil
}

// enqueue queues updates without checkpointing them (recovery replays
// updates that are already in the checkpoint).
func (u *updateManager) enqueue(ups ...wire.StatusUpdate) {
	var heads []wire.StatusUpdate
	u.mu.Lock()
	for _, up := range ups {
		k := taskKey{up.FrameworkID, up.Status.TaskID}
		s := u.streams[k]
		if s == nil {
			s = &updateStream{}
			u.streams[k] = s
		}
		s.queue = append(s.queue, up)
		if len(s.queue) == 1 {
			s.backoff = u.minBackoff
			s.nextTry = u.now().Add(s.backoff)
			heads = append(heads, up)
		}
	}
	u.mu.Unlock()
	if len(heads) > 0 {
		u.signalQueued()
	}
	u.transmit(heads, u.sent)
}

func (u *updateManager) transmit(ups []wire.StatusUpdate, count func(int)) {
	if len(ups) == 0 {
		return
	}
	if count != nil {
		count(len(ups))
	}
	u.send(ups)
}

// ack removes the acknowledged head of a task's stream and sends the next.
// It reports whether the uuid matched the head.
func (u *updateManager) ack(k taskKey, uuid string) bool {
	return u.ackAll([]wire.StatusAck{{FrameworkID: k.fw, TaskID: k.task, UUID: uuid}}) == 1
}

// ackAll applies acknowledgements: each that matches its task's head
// removes it, and the tasks' next updates go out together. It returns how
// many matched.
func (u *updateManager) ackAll(acks []wire.StatusAck) int {
	var matched []wire.StatusAck
	var next []wire.StatusUpdate
	var done []taskKey
	u.mu.Lock()
	for _, a := range acks {
		k := taskKey{a.FrameworkID, a.TaskID}
		s := u.streams[k]
		if s == nil || len(s.queue) == 0 || s.queue[0].Status.UUID != a.UUID {
			continue
		}
		if s.queue[0].Status.State.Terminal() {
			done = append(done, k)
		}
		s.queue = s.queue[1:]
		matched = append(matched, a)
		if len(s.queue) > 0 {
			next = append(next, s.queue[0])
			s.backoff = u.minBackoff
			s.nextTry = u.now().Add(s.backoff)
		} else {
			delete(u.streams, k)
		}
	}
	u.mu.Unlock()
	// Tasks whose terminal update was acknowledged are forgotten before the
	// acknowledgement is checkpointed: an agent that dies between the two
	// finds the update still pending after a restart and resends it (same
	// UUID), rather than finding the task again and reporting its end a
	// second time under a new UUID.
	if len(done) > 0 && u.onDone != nil {
		u.onDone(done)
	}
	if len(matched) > 0 && u.persistAck != nil {
		u.persistAck(matched)
	}
	if len(next) > 0 {
		u.signalQueued()
	}
	u.transmit(next, u.sent)
	return len(matched)
}

// retry resends heads whose backoff expired; with all set, every head is
// resent now (after a re-registration).
// It returns when the next head falls due, zero if none is queued.
func (u *updateManager) retry(all bool) (next time.Time) {
	now := u.now()
	var out []wire.StatusUpdate
	u.mu.Lock()
	for _, s := range u.streams {
		if len(s.queue) == 0 {
			continue
		}
		if all || !now.Before(s.nextTry) {
			out = append(out, s.queue[0])
			if !all {
				s.backoff *= 2
				if s.backoff > u.maxBackoff {
					s.backoff = u.maxBackoff
				}
			}
			s.nextTry = now.Add(s.backoff)
		}
		if next.IsZero() || s.nextTry.Before(next) {
			next = s.nextTry
		}
	}
	u.mu.Unlock()
	u.transmit(out, u.resent)
	return next
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
