// Package bench is `agora bench`: it starts a real Agora cluster in this
// process (one or three masters with raft on disk and embedded NATS) or
// attaches to a running one, runs many agents with the simulated executor
// (the real agent code, no processes), drives them with a benchmark
// framework built on the public SDK, and reports what it measured.
//
// Scenarios:
//
//   - offers: a framework declines an offer with refuse_seconds 0; the time
//     until the freed resources reach a framework again as an OFFERS event
//     (p50/p99/max over many samples, wall clock in one process).
//   - launch: M tasks packed into ACCEPT calls; the time from each task's
//     ACCEPT to its TASK_RUNNING update (which the SDK acknowledges as the
//     callback returns), and tasks/s.
//   - failover: three masters under steady launch load; the leader is
//     killed K times; time until offers resume, until every agent
//     re-registered, and the count of lost and duplicated tasks.
//   - scale: N agents heartbeating with T running tasks: the process's
//     resident memory and CPU in a steady interval, the master's
//     allocation pass duration (its own histogram) and REVIVE→OFFERS time
//     (a full pass, seen from outside), and re-registration after a
//     failover with three masters.
//   - real: M `/bin/true` tasks on one local agent running real
//     processes, through the bundled batch framework.
//   - state: N agents with T running tasks: GET /api/v1/state latency
//     and size, sequential and with P pollers at once, and the offer
//     latency (as offers measures it) first without polling, then while
//     P pollers hammer /api/v1/state, side by side with the master's
//     allocation pass durations.
//
// With --poll-state P, offers and scale poll /api/v1/state with P
// goroutines while they measure, and report what those requests saw.
//
// Agents run in this process, or, for more agents than one process has
// file descriptors for, in child processes (`agora bench agents`, a
// hidden subcommand) that report their registration state on stdout.
package bench
