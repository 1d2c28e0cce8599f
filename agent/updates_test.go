package agent

import (
	"sync"
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

type sent struct {
	mu  sync.Mutex
	ups []wire.StatusUpdate
}

func (s *sent) send(u wire.StatusUpdate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ups = append(s.ups, u)
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
	m.onDone = func(k taskKey) { done = append(done, k) }
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
