package agent

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/sdk/wire"
)

// registerLoop registers with the leader, then heartbeats; a new leader
// (or a master's REREGISTER) makes it register again with the tasks it
// runs.
func (a *Agent) registerLoop() {
	backoff := 50 * time.Millisecond
	for {
		if a.ctx.Err() != nil {
			return
		}
		if err := a.register(); err != nil {
			wait := backoff
			if noLeader(err) {
				// No master leads (an election is under way, or the one
				// asked had stepped down). The new leader's announcement
				// starts the registration (within its spread); until then
				// the agent asks again only now and then, not in a burst
				// with every other agent whose registration was refused
				// the same way.
				wait = a.cfg.NoLeaderRetry + rand.N(a.cfg.NoLeaderRetry)
			} else {
				backoff = min(backoff*2, 2*time.Second)
			}
			a.log.Debug("registration failed; retrying", "err", err, "in", wait)
			select {
			case <-a.ctx.Done():
				return
			case <-a.reregister:
			case <-time.After(wait):
			}
			continue
		}
		backoff = 50 * time.Millisecond
		a.heartbeat()
	}
}

// register sends REGISTER_AGENT with the running tasks.
func (a *Agent) register() error {
	req := wire.RegisterAgent{Agent: a.info}
	a.mu.Lock()
	for k, t := range a.tasks {
		rt := wire.RunningTask{FrameworkID: t.fw, Task: t.info, State: t.state}
		if t.done {
			// Ended, terminal update not yet acknowledged.
			rt.UpdateUUID = a.upd.terminalUUID(k)
		}
		req.Tasks = append(req.Tasks, rt)
	}
	req.SeenTerm, req.SeenSeq = a.seenTerm, a.seenSeq
	a.mu.Unlock()
	data, err := wire.Encode(wire.TypeRegisterAgent, string(a.id), 0, req)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(a.ctx, a.cfg.RegisterTimeout)
	defer cancel()
	msg, err := a.nc.RequestWithContext(ctx, a.subj.FromAgent(a.id), data)
	if err != nil {
		return err
	}
	var reg wire.AgentRegistered
	env, err := wire.Decode(msg.Data)
	if err != nil {
		return err
	}
	if !a.fence.Admit(env.Term) {
		// A leader older than one this agent knows answered (a deposed
		// leader, say with NOT_LEADER, before the newer one): ask again
		// soon.
		return errStaleLeader
	}
	if err := wire.ReplyError(env); err != nil {
		if !noLeader(err) {
			a.log.Warn("registration refused", "err", err)
		}
		return err
	}
	if err := wire.DecodeBody(env, &reg); err != nil {
		return err
	}
	a.mu.Lock()
	a.registered = true
	a.leader = reg.Leader
	a.heartbeatEvery = reg.HeartbeatInterval.D()
	a.registerSpread = reg.RegisterSpread.D()
	a.mu.Unlock()
	a.count.registrations.Add(1)
	a.log.Info("registered", "leader", reg.Leader.Name, "term", env.Term, "tasks", len(req.Tasks))
	// The new leader learns of unacknowledged updates now, not after
	// their backoff.
	a.upd.retry(true)
	return nil
}

// noLeader reports whether a registration failed for want of a leader:
// none answered, or the one that answered had stepped down.
func noLeader(err error) bool {
	var we *wire.Error
	return errors.Is(err, nats.ErrNoResponders) || errors.As(err, &we) && we.Code == wire.CodeNotLeader
}

// heartbeat sends heartbeats until a re-registration is needed.
func (a *Agent) heartbeat() {
	a.mu.Lock()
	every := a.heartbeatEvery
	a.mu.Unlock()
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	data := wire.MustEncode(wire.TypeAgentHeartbeat, string(a.id), 0, wire.AgentHeartbeat{AgentID: a.id})
	for n := 0; ; n++ {
		select {
		case <-a.ctx.Done():
			return
		case <-a.reregister:
			return
		case <-a.heartbeatChanged:
			a.mu.Lock()
			every = a.heartbeatEvery
			a.mu.Unlock()
			if every > 0 {
				t.Reset(every)
			}
		case <-t.C:
			msg := data
			if n%usageEvery == 0 {
				if usage := a.usage(); len(usage) > 0 {
					msg = wire.MustEncode(wire.TypeAgentHeartbeat, string(a.id), 0, wire.AgentHeartbeat{AgentID: a.id, Usage: usage})
				}
			}
			_ = a.nc.Publish(a.subj.FromAgent(a.id), msg)
		}
	}
}

// retryLoop resends unacknowledged status updates whose backoff expired.
// It sleeps until the first is due, and while none waits for an
// acknowledgement (most of an agent's life) until one is sent.
func (a *Agent) retryLoop() {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-a.upd.queued:
		case <-t.C:
		}
		next := a.upd.retry(false)
		if next.IsZero() {
			t.Stop()
			continue
		}
		// Bounded: a clock step (or a test's clock) never parks the loop
		// for longer than the longest backoff.
		t.Reset(min(max(time.Until(next), retryResolution), a.upd.maxBackoff))
	}
}

// retryResolution is the shortest sleep of the retry loop, which batches
// resends falling due within it.
const retryResolution = 10 * time.Millisecond

func (a *Agent) sendUpdates(ups []wire.StatusUpdate) {
	if a.nc == nil {
		return // recovering: updates go out after registration
	}
	for _, c := range wire.Chunks(len(ups)) {
		var data []byte
		var err error
		if c[1]-c[0] == 1 {
			data, err = wire.Encode(wire.TypeStatusUpdate, string(a.id), 0, ups[c[0]])
		} else {
			data, err = wire.Encode(wire.TypeStatusUpdates, string(a.id), 0, wire.StatusUpdates{Updates: ups[c[0]:c[1]]})
		}
		if err != nil {
			a.log.Error("encode update", "err", err)
			return
		}
		_ = a.nc.Publish(a.subj.FromAgent(a.id), data)
	}
}

// usageEvery: every this many heartbeats carry the tasks' usage.
const usageEvery = 5

// usage measures the running tasks' processes.
func (a *Agent) usage() []wire.TaskUsage {
	a.mu.Lock()
	var procs []*task
	for _, t := range a.tasks {
		if t.proc != nil && !t.done && t.info.Sim == nil {
			procs = append(procs, t)
		}
	}
	a.mu.Unlock()
	out := make([]wire.TaskUsage, 0, len(procs))
	for _, t := range procs {
		u, err := t.proc.Usage()
		if err != nil {
			continue
		}
		out = append(out, wire.TaskUsage{FrameworkID: t.fw, TaskID: t.info.TaskID, CPUSeconds: u.CPUSeconds, RSSBytes: u.RSSBytes, Processes: u.Processes})
	}
	return out
}
