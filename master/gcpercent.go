package master

import "runtime/debug"

// masterGCPercent is the Go collector's GOGC for `agora master` unless the
// GOGC environment variable says otherwise. A master's heap is mostly
// long-lived state (tasks, agents, offers), and its process also holds
// the embedded NATS server's two goroutines per client connection, whose
// stacks grow with every message and shrink only when the collector runs.
// Collecting twice as often as Go's default 100 kept a master with 10,000
// agents and 100,000 tasks at 922–939 MiB instead of 1,020–1,061 MiB, for
// 0.15 instead of 0.13 cores (BENCHMARKS.md).
const masterGCPercent = 50

// applyGCPercent sets masterGCPercent unless getenv("GOGC") is set, and
// returns the GOGC in force.
func applyGCPercent(getenv func(string) string) int {
	if getenv("GOGC") != "" {
		cur := debug.SetGCPercent(100)
		debug.SetGCPercent(cur)
		return cur
	}
	debug.SetGCPercent(masterGCPercent)
	return masterGCPercent
}
