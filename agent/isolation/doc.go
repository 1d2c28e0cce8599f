// Package isolation confines agent tasks in per-task Linux control groups:
// cpu shares (cpus × 1024) with an optional CFS quota, and a memory limit
// whose breach is detected as an OOM kill.
//
// Detect probes, once, what the kernel offers: cgroup v2 (a unified
// hierarchy with the cpu and memory controllers available) or cgroup v1
// (cpu and memory hierarchies mounted separately). It creates a parent
// cgroup (default "agora") at the root of each hierarchy, creates a probe
// cgroup below it, moves a short-lived shell into it and removes it again.
// Whatever fails turns isolation off with a reason; it never fails the
// caller, because tasks must run without limits rather than not at all.
//
// The files are written directly; the few that matter are:
//
//	v1: cpu.shares, cpu.cfs_period_us, cpu.cfs_quota_us,
//	    memory.limit_in_bytes, memory.memsw.limit_in_bytes,
//	    memory.oom_control ("oom_kill N")
//	v2: cpu.weight, cpu.max, memory.max, memory.swap.max,
//	    memory.events ("oom_kill N"), cgroup.kill
//
// A process joins a cgroup by writing its own pid to the cgroup.procs files
// returned by ProcsFiles, before it starts the task, so that everything the
// task forks is confined from the first instruction.
package isolation
