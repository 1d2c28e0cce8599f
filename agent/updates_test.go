package agent

import (
	"sync"
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

type sent struct {
	mu      sync.Mutex
	ups     []wire.StatusUpdate
	batches []int // sizes of the send calls
}

func (s *sent) send(ups []wire.StatusUpdate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ups = append(s.ups, ups...)
	s.batches = append(s.batches, len(ups))
}

func (s *sent) uuids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, u := range s.ups {
		out = append(out, u.Status.UUID)
	}
	return out
}

func up(task, uuid string, state wire.TaskState) wire.StatusUpdate {
	return wire.StatusUpdate{FrameworkID: "f", Status: wire.TaskStatus{TaskID: wire.TaskID(task), UUID: uuid, State: state}}
}

// TestUpdatesInOrderOneInFlight: a task's second update is sent only after
// the first is acknowledged; other tasks are independent.
func TestUpdatesInOrderOneInFlight(t *testing.T) {
	var s sent
	m := newUpdateManager(s.send, time.Second, time.Minute)
	var done []taskKey
	m.onDone = func(ks []taskKey) { done = append(done, ks...) }
	m.add(up("t1", "a", wire.TaskStarting))
	m.add(up("t1", "b", wire.TaskRunning))
	m.add(up("t2", "x", wire.TaskStarting))
	if got := s.uuids(); len(got) != 2 || got[0] != "a" || got[1] != "x" {
		t.Fatalf("sent %v, want [a x]", got)
	}
	if m.ack(taskKey{"f", "t1"}, "b") {
		t.Fatal("ack of a non-head update accepted")
	}
	if !m.ack(taskKey{"f", "t1"}, "a") {
		t.Fatal("ack of the head refused")
	}
	if got := s.uuids(); len(got) != 3 || got[2] != "b" {
		t.Fatalf("sent %v, want b after a's ack", got)
	}
	m.add(up("t1", "c", wire.TaskFinished))
	m.ack(taskKey{"f", "t1"}, "b")
	m.ack(taskKey{"f", "t1"}, "c")
	if len(done) != 1 || done[0].task != "t1" || m.pending(taskKey{"f", "t1"}) {
		t.Fatalf("terminal ack: done=%v pending=%v", done, m.pending(taskKey{"f", "t1"}))
	}
}

// TestUpdatesRetryWithBackoff uses a fake clock: the head is resent when
// its backoff expires, and the backoff doubles up to the cap.
func TestUpdatesRetryWithBackoff(t *testing.T) {
	var s sent
	now := time.Unix(0, 0)
	m := newUpdateManager(s.send, time.Second, 4*time.Second)
	m.now = func() time.Time { return now }
	m.add(up("t", "a", wire.TaskRunning))
	var sends []time.Duration
	for i := 0; i < 200; i++ {
		now = now.Add(100 * time.Millisecond)
		before := len(s.uuids())
		m.retry(false)
		if len(s.uuids()) > before {
			sends = append(sends, now.Sub(time.Unix(0, 0)))
		}
	}
	// Resends at 1s, then +2s, +4s, +4s ...: 1, 3, 7, 11, 15, 19.
	want := []time.Duration{1, 3, 7, 11, 15, 19}
	if len(sends) != len(want) {
		t.Fatalf("resent at %v", sends)
	}
	for i, w := range want {
		if sends[i] != w*time.Second {
			t.Fatalf("resent at %v, want %v s", sends, want)
		}
	}
	// After a re-registration every head goes out at once.
	before := len(s.uuids())
	m.retry(true)
	if len(s.uuids()) != before+1 {
		t.Fatal("retry(all) did not resend the head")
	}
}

// TestUpdatesRetryDue: retry says when the next head falls due, and
// that none does once everything is acknowledged (the retry loop then
// sleeps until an update is queued, which signals it).
func TestUpdatesRetryDue(t *testing.T) {
	var s sent
	now := time.Unix(0, 0)
	m := newUpdateManager(s.send, time.Second, 4*time.Second)
	m.now = func() time.Time { return now }
	if next := m.retry(false); !next.IsZero() {
		t.Fatalf("nothing queued, next due %v", next)
	}
	m.add(up("t", "a", wire.TaskRunning))
	select {
	case <-m.queued:
	default:
		t.Fatal("queueing an update did not signal the retry loop")
	}
	if next := m.retry(false); !next.Equal(now.Add(time.Second)) {
		t.Fatalf("next due %v, want the head's backoff (1 s)", next)
	}
	now = now.Add(time.Second)
	if next := m.retry(false); !next.Equal(now.Add(2*time.Second)) || len(s.uuids()) != 2 {
		t.Fatalf("after a resend: next due %v, %d sends", next, len(s.uuids()))
	}
	m.ack(taskKey{"f", "t"}, "a")
	if next := m.retry(false); !next.IsZero() {
		t.Fatalf("everything acknowledged, next due %v", next)
	}
}

// TestUpdatesBatched: updates made together are checkpointed in one write
// and sent in one batch; acknowledgements arriving together release the
// next updates of their tasks in one batch, and only matching ones count.
func TestUpdatesBatched(t *testing.T) {
	var s sent
	m := newUpdateManager(s.send, time.Second, time.Minute)
	var persisted, ackWrites []int
	m.persist = func(ups []wire.StatusUpdate) error { persisted = append(persisted, len(ups)); return nil }
	m.persistAck = func(acks []wire.StatusAck) { ackWrites = append(ackWrites, len(acks)) }
	var done []taskKey
	m.onDone = func(ks []taskKey) { done = append(done, ks...) }
	if err := m.add(up("t1", "a1", wire.TaskStarting), up("t2", "a2", wire.TaskStarting), up("t3", "a3", wire.TaskStarting)); err != nil {
		t.Fatal(err)
	}
	if err := m.add(up("t1", "b1", wire.TaskRunning), up("t2", "b2", wire.TaskFinished), up("t3", "b3", wire.TaskRunning)); err != nil {
		t.Fatal(err)
	}
	if len(persisted) != 2 || persisted[0] != 3 || persisted[1] != 3 {
		t.Fatalf("checkpoint writes %v, want [3 3]", persisted)
	}
	if len(s.batches) != 1 || s.batches[0] != 3 {
		t.Fatalf("send batches %v, want one of 3 (the RUNNINGs wait for their STARTING's ack)", s.batches)
	}
	n := m.ackAll([]wire.StatusAck{
		{FrameworkID: "f", TaskID: "t1", UUID: "a1"},
		{FrameworkID: "f", TaskID: "t2", UUID: "a2"},
		{FrameworkID: "f", TaskID: "t3", UUID: "wrong"},
		{FrameworkID: "f", TaskID: "t9", UUID: "a9"},
	})
	if n != 2 {
		t.Fatalf("ackAll matched %d, want 2", n)
	}
	if len(ackWrites) != 1 || ackWrites[0] != 2 {
		t.Fatalf("ack checkpoint writes %v, want one of 2", ackWrites)
	}
	if got := s.uuids(); len(s.batches) != 2 || s.batches[1] != 2 || got[3] != "b1" || got[4] != "b2" {
		t.Fatalf("after acks sent %v in batches %v, want b1,b2 in one batch", got, s.batches)
	}
	m.ackAll([]wire.StatusAck{{FrameworkID: "f", TaskID: "t2", UUID: "b2"}, {FrameworkID: "f", TaskID: "t1", UUID: "b1"}})
	if len(done) != 1 || done[0].task != "t2" {
		t.Fatalf("done = %v, want only t2 (its terminal update was acknowledged)", done)
	}
	if !m.pending(taskKey{"f", "t3"}) || m.pending(taskKey{"f", "t1"}) {
		t.Fatal("t3 must still be pending (its ack did not match), t1 not")
	}
}

func TestStaleAfterGrowsWithHeartbeat(t *testing.T) {
	for _, c := range []struct{ heartbeat, want time.Duration }{
		{0, minStaleAfter}, {time.Second, minStaleAfter}, {5 * time.Second, 10 * time.Second},
	} {
		if got := staleAfter(c.heartbeat); got != c.want {
			t.Errorf("staleAfter(%s) = %s, want %s", c.heartbeat, got, c.want)
		}
	}
}
