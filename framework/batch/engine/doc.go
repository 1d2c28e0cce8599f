// Package engine is the batch framework's scheduler: it turns jobs into
// runs and runs into task attempts, places attempts on offers, follows
// their status updates, retries, times out and kills them, starts DAG
// children and cron runs, and keeps all of it in the store.
//
// # Durability
//
// Every attempt is written to the store, in state LAUNCHING with its task
// ID, before the launch is sent; a status update is acknowledged only
// after its effect is committed. Commits are grouped: updates arriving
// together share one transaction. After a restart the engine loads its
// runs and attempts, re-subscribes under the same framework ID and
// reconciles every attempt that was not over: a task the master still
// knows is adopted; one it does not know (TASK_UNKNOWN) was never
// launched or is gone, and its instance gets a new attempt with a new
// task ID. No attempt is ever launched twice.
//
// # Concurrency
//
// One mutex guards the state. The driver's callbacks, the housekeeping
// loop (timeouts, cron, retries) and the API take it; calls to the master
// are made without it, from queued work ("outbox").
package engine
