// Package sdk is what a framework author imports to write an Agora
// framework: a [Driver] that connects a [Scheduler] to the master cluster.
//
// # Writing a framework
//
// Implement [Scheduler] — embed [BaseScheduler] and override the callbacks
// you need — and run it with a driver:
//
//	d, err := sdk.NewDriver(sdk.Config{
//		NATSURLs:  []string{"nats://127.0.0.1:4222"},
//		Framework: wire.FrameworkInfo{Name: "mine", FailoverTimeout: wire.Duration(time.Hour)},
//		IDFile:    "/var/lib/mine/framework-id", // resume as the same framework after a restart
//	}, myScheduler)
//	err = d.Run(ctx) // blocks; callbacks run one at a time, in arrival order
//
// Offers arrive in Offers; answer each with [Driver.Launch] (one offer,
// some tasks, the rest declined), [Driver.Accept] (several offers of one
// agent, explicit filters) or [Driver.Decline]. [Task] builds a task and
// [Pack] places many tasks into many offers (first fit or spread).
// Task status updates arrive in Update.
//
// # What the driver does for you
//
//   - Follows the leader: a new leader announces itself, and the driver
//     re-subscribes with the same framework ID (with backoff); a silent
//     master (three heartbeat intervals) makes it re-subscribe too, after
//     calling Disconnected.
//   - Reconciles after every subscription (implicit reconciliation): the
//     master answers with the latest state of every task it knows of the
//     framework, as updates with reason REASON_RECONCILIATION.
//   - Acknowledges updates once Update returns, and delivers an update the
//     agent resent (same UUID) only once. With Config.ManualAck the
//     scheduler acknowledges itself, after it has durably handled the
//     update (at-most-once processing), and sees every copy.
//   - Fences: events from an older leader term than one already seen are
//     dropped, so a deposed master cannot offer or update.
//   - Heartbeats to the master so that the framework's failover timeout
//     only starts when the framework is really gone.
//
// Stop(ctx, false) tears the framework down (the master kills its tasks);
// Stop(ctx, true) only disconnects, and a new driver with the same ID
// resumes within the failover timeout.
//
// # Testing
//
// Package [github.com/agora-cluster/agora/sdk/sdktest] starts a real
// cluster — masters with raft, embedded NATS, agents running processes or
// simulated tasks — inside a plain go test, with helpers to kill the
// leader, restart agents and wait for task states.
//
// The wire types (offers, tasks, statuses, resources) live in package
// [github.com/agora-cluster/agora/sdk/wire].
package sdk
