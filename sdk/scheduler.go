package sdk

import (
	"context"

	"github.com/agora-cluster/agora/sdk/wire"
)

// Scheduler receives a framework's events. The driver calls one method at
// a time, in the order the events arrived, from the goroutine running
// [Driver.Run]: a scheduler needs no locks of its own for state it only
// touches from these callbacks.
//
// Embed [BaseScheduler] to implement only the callbacks you need.
type Scheduler interface {
	// Subscribed is called after every (re-)subscription, with the
	// framework ID to keep.
	Subscribed(ctx context.Context, d *Driver, s wire.Subscribed)
	// Offers delivers resource offers. Accept them with [Driver.Launch]
	// or [Driver.Accept], or give them back with [Driver.Decline].
	Offers(ctx context.Context, d *Driver, offers []wire.Offer)
	// Rescind says an offer is no longer valid.
	Rescind(ctx context.Context, d *Driver, id wire.OfferID)
	// Update delivers a task status update. Unless the driver was built
	// with ManualAck, it is acknowledged when Update returns, and a resent
	// copy of an update already delivered (same UUID) is not delivered
	// again.
	Update(ctx context.Context, d *Driver, s wire.TaskStatus)
	// Failure says an agent was lost.
	Failure(ctx context.Context, d *Driver, f wire.Failure)
	// Error reports an error the master sent or the driver met.
	Error(ctx context.Context, d *Driver, err error)
	// Disconnected says the driver lost the leader; it re-subscribes by
	// itself and calls Subscribed when it is back.
	Disconnected(ctx context.Context, d *Driver)
}

// BaseScheduler implements every Scheduler method as a no-op; embed it and
// override what you need. It declines offers it is given, so that an
// embedding scheduler that ignores offers does not hold resources.
type BaseScheduler struct{}

// Subscribed implements Scheduler.
func (BaseScheduler) Subscribed(context.Context, *Driver, wire.Subscribed) {}

// Offers implements Scheduler by declining every offer.
func (BaseScheduler) Offers(ctx context.Context, d *Driver, offers []wire.Offer) {
	ids := make([]wire.OfferID, len(offers))
	for i, o := range offers {
		ids[i] = o.ID
	}
	_ = d.Decline(ctx, ids, -1)
}

// Rescind implements Scheduler.
func (BaseScheduler) Rescind(context.Context, *Driver, wire.OfferID) {}

// Update implements Scheduler.
func (BaseScheduler) Update(context.Context, *Driver, wire.TaskStatus) {}

// Failure implements Scheduler.
func (BaseScheduler) Failure(context.Context, *Driver, wire.Failure) {}

// Error implements Scheduler.
func (BaseScheduler) Error(context.Context, *Driver, error) {}

// Disconnected implements Scheduler.
func (BaseScheduler) Disconnected(context.Context, *Driver) {}
