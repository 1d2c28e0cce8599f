package engine

import (
	"context"

	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Scheduler returns the engine as an sdk.Scheduler, for sdk.NewDriver. The
// driver must be built with ManualAck: the engine acknowledges updates
// itself, after committing them.
func (e *Engine) Scheduler() sdk.Scheduler { return scheduler{e: e} }

type scheduler struct {
	sdk.BaseScheduler
	e *Engine
}

func (s scheduler) Subscribed(ctx context.Context, d *sdk.Driver, sub wire.Subscribed) {
	s.e.handleSubscribed(ctx, d, sub)
}

func (s scheduler) Offers(ctx context.Context, d *sdk.Driver, offers []wire.Offer) {
	s.e.handleOffers(ctx, d, offers)
}

func (s scheduler) Rescind(context.Context, *sdk.Driver, wire.OfferID) {
	s.e.handleRescind()
}

func (s scheduler) Update(ctx context.Context, _ *sdk.Driver, st wire.TaskStatus) {
	s.e.handleUpdate(ctx, st)
}

func (s scheduler) Failure(_ context.Context, _ *sdk.Driver, f wire.Failure) {
	s.e.log.Warn("agent lost", "agent", f.AgentID, "msg", f.Message)
}

func (s scheduler) Error(_ context.Context, _ *sdk.Driver, err error) {
	s.e.log.Error("master reported an error", "err", err)
}

func (s scheduler) Disconnected(context.Context, *sdk.Driver) {
	s.e.log.Warn("disconnected from the master; re-subscribing")
	s.e.handleDisconnected()
}

// handleSubscribed remembers the driver and reconciles every attempt that
// is not over, so that tasks still running are adopted and those the
// master does not know are retried.
func (e *Engine) handleSubscribed(ctx context.Context, d Driver, sub wire.Subscribed) {
	now := e.clock.Now()
	e.mu.Lock()
	e.drv = d
	e.subscribed = true
	e.suppressed = false
	e.wantRevive = true
	var tasks []wire.ReconcileTask
	for _, ref := range e.attempts {
		if ref.a.Active() {
			ref.lastNews = now
			tasks = append(tasks, wire.ReconcileTask{TaskID: ref.a.TaskID, AgentID: ref.a.AgentID})
		}
	}
	e.mu.Unlock()
	e.log.Info("subscribed", "framework", sub.FrameworkID, "leader", sub.Leader.Name, "reconciling", len(tasks))
	e.reconcile(ctx, d, tasks)
	e.kickTick()
	e.requestFlush() // send acknowledgements held while disconnected
}
