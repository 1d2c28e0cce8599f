// Package events carries the service framework's event stream: instance
// status changes, health changes and deployment steps. A [Hub] numbers
// events, keeps the most recent ones so that a client reconnecting with
// the last number it saw misses nothing still held, and fans them out to
// subscribers (the SSE endpoint GET /v1/events).
package events

import (
	"sync"
	"time"
)

// Type names an event.
type Type string

// Event types.
const (
	// InstanceStatus: an instance changed task state.
	InstanceStatus Type = "instance_status"
	// InstanceHealth: an instance became healthy or unhealthy.
	InstanceHealth Type = "instance_health"
	// InstanceKilled: the framework asked for an instance to be killed.
	InstanceKilled Type = "instance_kill"
	// InstanceInactive: an unreachable instance was given up and replaced.
	InstanceInactive Type = "instance_inactive"
	// AppDeployed, AppRemoved and AppBackoff concern a whole app.
	AppDeployed Type = "app_deployed"
	AppRemoved  Type = "app_removed"
	AppBackoff  Type = "app_backoff"
	// DeploymentStep: a deployment made a step (launch, kill, healthy).
	DeploymentStep Type = "deployment_step"
	// DeploymentStalled: a deployment made no progress for a while; the
	// message says why.
	DeploymentStalled Type = "deployment_stalled"
	// DeploymentFinished: a deployment ended; State says how.
	DeploymentFinished Type = "deployment_finished"
)

// Event is one entry of the stream.
type Event struct {
	// Seq numbers events from 1, without gaps, for one Hub.
	Seq        uint64    `json:"seq"`
	Time       time.Time `json:"time"`
	Type       Type      `json:"type"`
	App        string    `json:"app,omitempty"`
	Version    int       `json:"version,omitempty"`
	Instance   string    `json:"instance,omitempty"`
	Deployment string    `json:"deployment,omitempty"`
	// State is a task state, a health ("healthy", "unhealthy") or a
	// deployment's final state, depending on Type.
	State   string `json:"state,omitempty"`
	Message string `json:"message,omitempty"`
}

// Hub numbers, keeps and fans out events. The zero value is not usable;
// use NewHub.
type Hub struct {
	mu     sync.Mutex
	seq    uint64
	ring   []Event
	keep   int
	subs   map[*sub]struct{}
	closed bool
}

type sub struct {
	ch      chan Event
	dropped bool
}

// NewHub returns a hub that keeps the last keep events (default 1024).
func NewHub(keep int) *Hub {
	if keep <= 0 {
		keep = 1024
	}
	return &Hub{keep: keep, subs: map[*sub]struct{}{}}
}

// Publish numbers e, stamps it (if Time is zero), keeps it and hands it
// to every subscriber. A subscriber that cannot keep up is disconnected
// (its channel is closed) rather than slowing the publisher.
func (h *Hub) Publish(e Event) Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	e.Seq = h.seq
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	h.ring = append(h.ring, e)
	if len(h.ring) > h.keep {
		h.ring = append(h.ring[:0:0], h.ring[len(h.ring)-h.keep:]...)
	}
	for s := range h.subs {
		select {
		case s.ch <- e:
		default:
			s.dropped = true
			close(s.ch)
			delete(h.subs, s)
		}
	}
	return e
}

// Since returns the kept events numbered after seq.
func (h *Hub) Since(seq uint64) []Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.since(seq)
}

func (h *Hub) since(seq uint64) []Event {
	var out []Event
	for _, e := range h.ring {
		if e.Seq > seq {
			out = append(out, e)
		}
	}
	return out
}

// Subscribe returns the kept events after seq and a channel of the
// events published from now on. The channel is closed when cancel is
// called, when the hub closes, or when the subscriber falls more than
// buffer events behind.
func (h *Hub) Subscribe(seq uint64, buffer int) (backlog []Event, ch <-chan Event, cancel func()) {
	if buffer <= 0 {
		buffer = 256
	}
	s := &sub{ch: make(chan Event, buffer)}
	h.mu.Lock()
	defer h.mu.Unlock()
	backlog = h.since(seq)
	if h.closed {
		close(s.ch)
		return backlog, s.ch, func() {}
	}
	h.subs[s] = struct{}{}
	var once sync.Once
	return backlog, s.ch, func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			if _, ok := h.subs[s]; ok {
				delete(h.subs, s)
				close(s.ch)
			}
		})
	}
}

// Last returns the number of the newest event (0 if none).
func (h *Hub) Last() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seq
}

// Close closes every subscriber's channel; later subscriptions get a
// closed channel.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		close(s.ch)
		delete(h.subs, s)
	}
}
