// Package chaos is a multi-host chaos harness for Agora: three masters and
// three agents, each in its own network namespace on a private bridge
// (created and removed by the harness), run a batch and a service
// workload while a fixed-seed schedule kills, pauses and partitions the
// leader, partitions and restarts agents, and kills followers. After
// healing, a checker verifies that no task was lost or run twice, that
// every terminal state reached its framework, that at most one master
// sent anything in each raft term, that the agents' resources add up, and
// that the registry history the clients saw is linearizable.
//
// The run needs root, iproute2 and nsenter. The Go test behind the build
// tag "chaos" runs it (go test -tags chaos ./scripts/chaos/); run.sh wraps
// it with a seed and a duration. See README.md.
package chaos
