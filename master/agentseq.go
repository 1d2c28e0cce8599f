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

// askReregister asks an agent to register again.
func (l *leader) askReregister(agent wire.AgentID) {
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
