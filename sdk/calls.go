package sdk

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/sdk/wire"
)

// request makes a call and decodes the reply into out (if not nil). A
// refusal comes back as a *wire.Error; a master that no longer knows the
// framework makes the driver re-subscribe. A call a replaced leader left
// unanswered, or answered after the driver heard of a newer one, ends with
// ErrLeaderChanged (see callTerms).
func (d *Driver) request(parent context.Context, t wire.Type, body, out any) (wire.Envelope, error) {
	if d.isStopped() {
		return wire.Envelope{}, ErrStopped
	}
	if d.nc == nil {
		return wire.Envelope{}, ErrNotSubscribed
	}
	data, err := wire.Encode(t, string(d.id), 0, body)
	if err != nil {
		return wire.Envelope{}, err
	}
	ctx, cancel := context.WithTimeout(parent, d.cfg.CallTimeout)
	defer cancel()
	term := d.calls.current()
	defer context.AfterFunc(term, cancel)()
	msg, err := d.nc.RequestWithContext(ctx, d.subj.Call(d.id), data)
	if err != nil {
		if d.isStopped() {
			return wire.Envelope{}, ErrStopped
		}
		if errors.Is(err, nats.ErrNoResponders) {
			return wire.Envelope{}, fmt.Errorf("sdk: %s: no leader is answering: %w", t, err)
		}
		if parent.Err() == nil && context.Cause(term) == ErrLeaderChanged {
			return wire.Envelope{}, fmt.Errorf("sdk: %s: %w", t, ErrLeaderChanged)
		}
		return wire.Envelope{}, fmt.Errorf("sdk: %s: %w", t, err)
	}
	env, err := wire.Decode(msg.Data)
	if err != nil {
		return env, err
	}
	d.calls.heard(env.Term)
	if newest := d.calls.newest(); env.Term != 0 && env.Term < newest {
		// A leader that did not know yet it was deposed answered first
		// (it was paused, say, and took the call from its queue when it
		// resumed); the current leader may have taken the same call. Its
		// answer, refusal or not, says nothing of that: the call is in
		// doubt.
		return env, fmt.Errorf("sdk: %s: answered by the leader of term %d, replaced by term %d: %w", t, env.Term, newest, ErrLeaderChanged)
	}
	if err := wire.ReplyError(env); err != nil {
		var we *wire.Error
		if errors.As(err, &we) && we.Code == wire.CodeUnknownFramework && t != wire.TypeSubscribe && t != wire.TypeTeardown {
			d.kickResubscribe()
		}
		return env, err
	}
	if out != nil {
		if err := wire.DecodeBody(env, out); err != nil {
			return env, err
		}
	}
	return env, nil
}

// cast sends a call without waiting for its reply.
func (d *Driver) cast(t wire.Type, body any) {
	data, err := wire.Encode(t, string(d.id), 0, body)
	if err != nil {
		d.log.Error("encode", "type", t, "err", err)
		return
	}
	_ = d.nc.Publish(d.subj.Call(d.id), data)
}

// Accept accepts offers (all on one agent) with operations. Resources the
// operations do not use go back to the master, refused to this framework
// for the filter's refuse_seconds.
func (d *Driver) Accept(ctx context.Context, offers []wire.OfferID, ops []wire.Operation, filters wire.Filters) (wire.AcceptResult, error) {
	var res wire.AcceptResult
	_, err := d.request(ctx, wire.TypeAccept, wire.Accept{OfferIDs: offers, Operations: ops, Filters: filters}, &res)
	return res, err
}

// Launch accepts one offer and launches tasks on it; each task's AgentID
// is filled in from the offer. The rest of the offer is declined with the
// default filter; use [Driver.Accept] to choose another.
func (d *Driver) Launch(ctx context.Context, offer wire.Offer, tasks ...wire.TaskInfo) (wire.AcceptResult, error) {
	for i := range tasks {
		tasks[i].AgentID = offer.AgentID
	}
	return d.Accept(ctx, []wire.OfferID{offer.ID}, []wire.Operation{{Type: wire.OpLaunch, Tasks: tasks}}, wire.Filters{})
}

// Decline gives offers back. refuseSeconds < 0 means the master's default
// (5 s); 0 means the resources may be offered again at once.
func (d *Driver) Decline(ctx context.Context, offers []wire.OfferID, refuseSeconds float64) error {
	_, err := d.request(ctx, wire.TypeDecline, wire.Decline{OfferIDs: offers, Filters: Refuse(refuseSeconds)}, nil)
	return err
}

// Refuse builds filters: seconds < 0 means the master's default.
func Refuse(seconds float64) wire.Filters {
	if seconds < 0 {
		return wire.Filters{}
	}
	return wire.Filters{RefuseSeconds: &seconds}
}

// Revive clears the framework's filters and suppression for roles (none
// means all of its roles).
func (d *Driver) Revive(ctx context.Context, roles ...string) error {
	_, err := d.request(ctx, wire.TypeRevive, wire.Revive{Roles: roles}, nil)
	return err
}

// Suppress stops offers for roles (none means all) until Revive.
func (d *Driver) Suppress(ctx context.Context, roles ...string) error {
	_, err := d.request(ctx, wire.TypeSuppress, wire.Suppress{Roles: roles}, nil)
	return err
}

// Kill asks for a task to be killed; its end arrives as an update.
func (d *Driver) Kill(ctx context.Context, task wire.TaskID, agent wire.AgentID) error {
	_, err := d.request(ctx, wire.TypeKill, wire.Kill{TaskID: task, AgentID: agent}, nil)
	return err
}

// Shutdown kills every task of this framework on an agent.
func (d *Driver) Shutdown(ctx context.Context, agent wire.AgentID) error {
	_, err := d.request(ctx, wire.TypeShutdown, wire.Shutdown{AgentID: agent}, nil)
	return err
}

// Acknowledge acknowledges a status update (only needed with ManualAck;
// updates without a UUID need none).
func (d *Driver) Acknowledge(ctx context.Context, s wire.TaskStatus) error {
	if s.UUID == "" {
		return nil
	}
	_, err := d.request(ctx, wire.TypeAcknowledge, wire.Acknowledge{AgentID: s.AgentID, TaskID: s.TaskID, UUID: s.UUID}, nil)
	return err
}

// ackAsync acknowledges without waiting: a lost acknowledgement only means
// the agent resends the update, which is acknowledged again.
func (d *Driver) ackAsync(s wire.TaskStatus) {
	d.cast(wire.TypeAcknowledge, wire.Acknowledge{AgentID: s.AgentID, TaskID: s.TaskID, UUID: s.UUID})
}

// ackAllAsync acknowledges several updates in one message, without
// waiting.
func (d *Driver) ackAllAsync(acks []wire.Acknowledge) {
	for _, c := range wire.Chunks(len(acks)) {
		if c[1]-c[0] == 1 {
			d.cast(wire.TypeAcknowledge, acks[c[0]])
			continue
		}
		d.cast(wire.TypeAcknowledgements, wire.Acknowledgements{Acks: acks[c[0]:c[1]]})
	}
}

// Reconcile asks for the latest state of tasks; with none, of every task
// the master knows of this framework. Answers arrive as updates with
// reason REASON_RECONCILIATION.
func (d *Driver) Reconcile(ctx context.Context, tasks ...wire.ReconcileTask) (wire.ReconcileResult, error) {
	var res wire.ReconcileResult
	_, err := d.request(ctx, wire.TypeReconcile, wire.Reconcile{Tasks: tasks}, &res)
	return res, err
}

// Message sends opaque data to an agent.
func (d *Driver) Message(ctx context.Context, agent wire.AgentID, data []byte) error {
	_, err := d.request(ctx, wire.TypeMessage, wire.Message{AgentID: agent, Data: data}, nil)
	return err
}
