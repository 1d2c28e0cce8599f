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
// agent, explicit filters) or [Driver.Decline]. Task status updates
// arrive in Update.
//
// # Placing tasks
//
//   - [Task] builds a task: command, resources, ports, environment,
//     labels, kill grace, and for simulated agents a script
//     ([TaskBuilder.Simulate], [TaskBuilder.SimulateHang],
//     [TaskBuilder.SimulateStartDelay]).
//   - [Pack] places many tasks into many offers, first fit or spread
//     ([PackOptions]), picking ports from the offers; [PackOptions].Fits
//     can veto a placement.
//   - Package [github.com/agora-cluster/agora/sdk/constraint] evaluates
//     placement constraints on hostnames and attributes ("hostname:UNIQUE",
//     "rack:GROUP_BY:3", "zone:LIKE:us-east-.*"), the operators the service
//     framework uses; call it from a Fits function.
//   - [Refuse] and [RefuseJitter] build decline filters. Decline what you
//     do not need for long, with jitter, so that many frameworks (or many
//     declines) do not get their resources back at the same instant — the
//     revive storms Mesos frameworks met; [Driver.Revive] asks for offers
//     again when you need more, [Driver.Suppress] stops them.
//   - [wire.Resources] does the arithmetic (Add, Sub, Contains) and
//     [wire.Ranges] the port ranges.
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
//   - Ends calls a replaced leader never answers: once a newer leader has
//     announced itself, a call still unanswered 500 ms later returns
//     [ErrLeaderChanged] instead of waiting for Config.CallTimeout. So does
//     a call answered by a leader older than one the driver has heard of
//     (a deposed leader that took it before it learnt it was replaced):
//     its answer says nothing of what the current leader did. Like a
//     timeout, it leaves the call's effect in doubt: reconcile the tasks a
//     failed launch named.
//
// # Stopping
//
// Stop(ctx, false) tears the framework down: the master kills its tasks and
// forgets it, and the IDFile is removed. If no leader takes the TEARDOWN,
// Stop returns the error and the driver keeps running, so Stop can be
// retried. Stop(ctx, true) only disconnects, and a new driver with the same
// ID resumes within the failover timeout; so does a Run whose context
// ended. After either, calls return [ErrStopped].
//
// # Testing
//
// Package [github.com/agora-cluster/agora/sdk/sdktest] starts a real
// cluster — masters with raft, embedded NATS, agents running processes or
// simulated tasks — inside a plain go test, in well under a second, with
// helpers to kill the leader, restart agents and wait for task states, and
// a Recorder scheduler that keeps every event. The examples in
// examples/ (hello, pi, drf, failover, first) are complete frameworks
// tested that way.
//
// The wire types (offers, tasks, statuses, resources) live in package
// [github.com/agora-cluster/agora/sdk/wire].
package sdk
