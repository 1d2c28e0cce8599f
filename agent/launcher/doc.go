// Package launcher runs an agent's tasks: as real processes in per-task
// sandboxes (ProcessExecutor), or as scripted, process-free simulations
// for benchmarks (SimExecutor). It knows nothing of NATS or the master;
// the agent calls Launch, watches Done, calls Kill, and checkpoints what
// Checkpoint returns so that a restarted agent can Attach again.
//
// # Process tasks
//
// Each run gets a sandbox directory
//
//	<work-dir>/frameworks/<framework>/tasks/<task>/runs/<n>/
//
// holding the task's stdout and stderr files and the framework's messages
// to it (MessagesFile, named by AGORA_MESSAGES); it is also the task's
// working directory and HOME. The task runs in its own process group
// (Setpgid), and Kill signals the whole group: SIGTERM, then SIGKILL
// after the grace period. When the task's main process ends, whatever it
// left running in its group (and in its cgroup) is killed too, as Mesos
// and Nomad do.
//
// # The exit-status wrapper
//
// A process that is not our child (a task re-attached after an agent
// restart) cannot be waited for, so its exit status would be lost. Every
// task therefore runs under a tiny /bin/sh wrapper that is the process
// group leader:
//
//	wrapper: join the task's cgroups; trap HUP/INT/TERM (so it survives
//	         the TERM aimed at the task); run the command as its child;
//	         write the child's status to <sandbox>/.agora_exit_status;
//	         exit with that status.
//
// The trap is a no-op handler, not "ignore", so the task itself starts
// with default signal dispositions. An agent that is the wrapper's parent
// reads the wait status directly; an agent that re-attached polls the pid
// (checking its start time, so a reused pid is never mistaken for the
// task) and, once it is gone, reads the status file. Only a wrapper killed
// by a signal it does not trap (in practice SIGKILL) leaves no file; that
// is reported as SIGKILL when the agent sent it, and otherwise as an
// unknown exit (TASK_FAILED, REASON_AGENT_RESTARTED).
//
// A status above 128 is reported as death by signal status-128, which is
// how shells report it: a command that really calls exit(143) is
// indistinguishable from one killed by SIGTERM.
//
// When the exit is known, the launcher writes it as JSON to
// <sandbox>/.agora_exit.json; GCSandboxes uses that file to tell finished
// runs from running ones.
//
// # Isolation
//
// With cgroups available (see package isolation) each task gets its own
// cgroup with cpu shares, a CFS quota and a memory limit, joined by the
// wrapper before the command starts. A task whose cgroup saw an OOM kill
// and that did not exit 0 ends TASK_FAILED with REASON_MEMORY_LIMIT. A
// cgroup that cannot be created is logged and the task runs without one.
package launcher
