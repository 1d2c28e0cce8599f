package master

import (
	"hash/fnv"
	"math"
	"sync"

	"github.com/agora-cluster/agora/sdk/wire"
)

// The leader numbers the LAUNCH and REREGISTER messages it sends each
// agent, and an agent's registration says up to which number it had
// handled them when it listed its tasks. A task missing from a
// registration is lost only if the registration has seen the task's
// LAUNCH: registrations the agent sent before (several can be on their
// way after a partition heals) say nothing about it.

// seqPending marks a task whose LAUNCH has no number yet: no registration
// has seen it.
const seqPending = math.MaxUint64

type seqStripe struct {
	mu   sync.Mutex
	next map[wire.AgentID]uint64
}

// sendNumbered numbers a message to an agent and publishes it, under the
// agent's stripe lock so that the numbers reach the agent in order.
// numbered stores the number in the body (and wherever the caller needs
// it) before it is sent. Never called with a stripe lock held; may be
// called with l.mu held.
func (l *leader) sendNumbered(agent wire.AgentID, t wire.Type, numbered func(seq uint64) any) {
	h := fnv.New32a()
	_, _ = h.Write([]byte(agent))
	s := &l.seqs[h.Sum32()%uint32(len(l.seqs))]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next == nil {
		s.next = map[wire.AgentID]uint64{}
	}
	s.next[agent]++
	l.publish(l.m.subj.Agent(agent), t, numbered(s.next[agent]))
}

// Why the leader asks an agent to register again (the reason label of
// agora_master_reregister_requests_total).
const (
	// reregUnknownAgent: a heartbeat or status update of an agent not
	// registered with this leader.
	reregUnknownAgent = "unknown_agent"
	// reregUnknownTask: a status update of a running task the leader does
	// not know.
	reregUnknownTask = "unknown_task"
	// reregUnsettled: a task launched after the agent's last listing was
	// not heard of a heartbeat interval later.
	reregUnsettled = "unsettled"
)

// askReregister asks an agent to register again, for the reason given.
func (l *leader) askReregister(agent wire.AgentID, reason string) {
	l.m.metrics.reregisterAsks.WithLabelValues(reason).Inc()
	li := l.info()
	l.sendNumbered(agent, wire.TypeReregister, func(seq uint64) any {
		return wire.Reregister{LeaderInfo: li, Seq: seq}
	})
}

// seenLaunch reports whether a registration was listed after the agent
// handled t's LAUNCH. Tasks the leader learnt from a registration
// (number 0) were listed by the agent before.
func (l *leader) seenLaunch(req wire.RegisterAgent, t *taskState) bool {
	seq := t.launchSeq.Load()
	return seq == 0 || req.SeenTerm == l.term && req.SeenSeq >= seq
}
