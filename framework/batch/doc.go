// Package batch is Agora's bundled batch framework: jobs with instances,
// parallelism, retries with backoff, timeouts, placement constraints,
// DAG dependencies and cron schedules, kept in a durable local store so
// that a restart of the framework loses nothing and launches nothing
// twice.
//
// [Start] runs the framework in-process (agora dev, tests); [Command] is
// `agora batch`: `serve` runs it as a process, and submit, run, status,
// history, logs, kill and rm talk to its HTTP API.
//
// The parts live in sub-packages: spec (job files and validation), dag,
// cron, record (what is kept), store (bbolt), engine (the scheduler),
// api (HTTP server and client) and sandbox (task output).
package batch
