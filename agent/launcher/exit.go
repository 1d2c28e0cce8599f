package launcher

import (
	"fmt"
	"strconv"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

// outcome is how a task's command ended, as far as it is known.
type outcome struct {
	known  bool
	code   int    // the exit code when signal is ""
	signal string // e.g. "SIGTERM"
}

func exited(code int) outcome       { return outcome{known: true, code: code} }
func signalled(name string) outcome { return outcome{known: true, signal: name} }

func (o outcome) success() bool { return o.known && o.signal == "" && o.code == 0 }

func (o outcome) describe() string {
	switch {
	case !o.known:
		return "ended while no agent was watching and left no exit status"
	case o.signal != "":
		return "terminated by " + o.signal
	default:
		return fmt.Sprintf("exited with code %d", o.code)
	}
}

// killInfo records a Kill call.
type killInfo struct {
	requested bool
	reason    wire.Reason
	grace     time.Duration // negative: SIGKILL at once
	escalated bool          // SIGKILL was sent
}

// buildExit turns what is known about a task's end into its Exit. A Kill
// wins over everything; then an OOM kill in the task's cgroup (unless the
// task still exited 0); then the command's own status.
func buildExit(o outcome, k killInfo, oomKills uint64, memMB float64) Exit {
	var e Exit
	if o.known {
		if o.signal != "" {
			e.Signal = o.signal
		} else {
			c := o.code
			e.ExitCode = &c
		}
	}
	switch {
	case k.requested:
		e.State, e.Reason = wire.TaskKilled, k.reason
		if e.Reason == "" {
			e.Reason = wire.ReasonKilledByFramework
		}
		switch {
		case o.signal == "SIGKILL" && k.escalated && k.grace > 0:
			e.Message = fmt.Sprintf("killed by SIGKILL after %s grace", k.grace)
		case o.signal != "":
			e.Message = "killed by " + o.signal
		case !o.known:
			e.Message = "killed; the task " + o.describe()
		default:
			e.Message = fmt.Sprintf("killed: exited with code %d after SIGTERM", o.code)
		}
	case oomKills > 0 && !o.success():
		e.State, e.Reason = wire.TaskFailed, wire.ReasonMemoryLimit
		e.Message = fmt.Sprintf("memory limit of %s MB exceeded: the OOM killer killed %d process(es) and the task %s",
			strconv.FormatFloat(memMB, 'f', -1, 64), oomKills, o.describe())
	case !o.known:
		e.State, e.Reason = wire.TaskFailed, wire.ReasonAgentRestarted
		e.Message = "exit status unknown: the task " + o.describe()
	case o.success():
		e.State, e.Reason = wire.TaskFinished, wire.ReasonCommandExited
		e.Message = o.describe()
		if oomKills > 0 {
			e.Message += fmt.Sprintf("; the OOM killer killed %d of its processes", oomKills)
		}
	default:
		e.State, e.Reason = wire.TaskFailed, wire.ReasonCommandExited
		e.Message = o.describe()
	}
	return e
}
