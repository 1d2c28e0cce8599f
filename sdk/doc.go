// Package sdk is what a framework author imports to write an Agora
// framework: a [Driver] that connects a [Scheduler] to the master cluster.
//
// A scheduler receives offers and task updates through small callbacks,
// called one at a time in arrival order; it answers offers with
// [Driver.Launch], [Driver.Accept] or [Driver.Decline]. The driver follows
// leader changes by itself: it re-subscribes with the same framework ID,
// reconciles, and acknowledges every update once the scheduler's Update
// callback returns (unless Config.ManualAck is set).
//
// The wire types (offers, tasks, statuses) live in package
// [github.com/agora-cluster/agora/sdk/wire].
package sdk
