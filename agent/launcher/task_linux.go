//go:build linux

package launcher

import (
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/agora-cluster/agora/agent/isolation"
	"github.com/agora-cluster/agora/sdk/wire"
)

// procTask is a task run by a ProcessExecutor: either our child (child)
// or a process re-attached after a restart, which is polled.
type procTask struct {
	e       *ProcessExecutor
	log     *slog.Logger
	spec    Spec
	pid     int // the wrapper: group leader, so also the pgid
	start   uint64
	sandbox string
	cg      *isolation.Cgroup
	started time.Time
	child   bool
	done    chan struct{}

	mu     sync.Mutex
	exited bool // the leader has ended: no more signals to it
	kill   killInfo
	timer  *time.Timer // escalates to SIGKILL
	exit   Exit
}

var _ Task = (*procTask)(nil)

func (e *ProcessExecutor) newTask(spec Spec, pid int, start uint64, sandbox string, cg *isolation.Cgroup, started time.Time, log *slog.Logger) *procTask {
	return &procTask{
		e: e, log: log, spec: spec, pid: pid, start: start, sandbox: sandbox,
		cg: cg, started: started, done: make(chan struct{}),
	}
}

func (t *procTask) Pid() int              { return t.pid }
func (t *procTask) Sandbox() string       { return t.sandbox }
func (t *procTask) Done() <-chan struct{} { return t.done }

func (t *procTask) Exit() Exit {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.exit
}

func (t *procTask) Checkpoint() Checkpoint {
	cp := Checkpoint{
		Executor: t.e.Name(), Spec: t.spec, Pid: t.pid, StartTicks: t.start,
		Sandbox: t.sandbox, Started: t.started,
	}
	if t.cg != nil {
		st := t.cg.State()
		cp.Cgroup = &st
	}
	return cp
}

func (t *procTask) Kill(grace time.Duration, reason wire.Reason) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.exited || t.kill.requested {
		return
	}
	if grace == 0 {
		grace = t.spec.Task.KillGrace.D()
	}
	if grace == 0 {
		grace = t.e.cfg.DefaultKillGrace
	}
	t.kill = killInfo{requested: true, reason: reason, grace: grace}
	if grace < 0 {
		t.kill.escalated = true
		t.signalLocked(syscall.SIGKILL)
		return
	}
	t.log.Info("killing task", "grace", grace, "reason", reason)
	t.signalLocked(syscall.SIGTERM)
	t.timer = time.AfterFunc(grace, t.escalate)
}

func (t *procTask) escalate() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.exited {
		return
	}
	t.kill.escalated = true
	t.log.Info("task outlived its kill grace; sending SIGKILL", "grace", t.kill.grace)
	t.signalLocked(syscall.SIGKILL)
}

// signalLocked signals the task's process group and its cgroup. A child
// is signalled only until it has been reaped (waitChild reaps under
// t.mu); a re-attached process only while its start time still matches.
func (t *procTask) signalLocked(sig syscall.Signal) {
	if t.exited {
		return
	}
	if t.child {
		_ = syscall.Kill(-t.pid, sig)
	} else {
		signalGroup(t.pid, t.start, sig)
	}
	if t.cg != nil {
		_ = t.cg.Signal(sig)
	}
}

// waitChild waits for our child without reaping it (WNOWAIT), kills what
// is left of its group while the zombie still holds the pgid, and then
// reaps it.
func (t *procTask) waitChild(cmd *exec.Cmd) {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, t.pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, syscall.EINTR) {
			break // on any other error cmd.Wait below still reaps
		}
	}
	t.mu.Lock()
	_ = syscall.Kill(-t.pid, syscall.SIGKILL)
	_ = cmd.Wait()
	t.exited = true
	if t.timer != nil {
		t.timer.Stop()
	}
	t.mu.Unlock()
	t.finish(waitOutcome(cmd.ProcessState), false)
}

// watch polls a re-attached process until it is gone, then reads the
// status the wrapper left.
func (t *procTask) watch() {
	tick := time.NewTicker(t.e.cfg.AttachPollInterval)
	defer tick.Stop()
	for range tick.C {
		st, err := readStat(t.pid)
		if err != nil || st.start != t.start || st.dead() {
			break
		}
	}
	t.mu.Lock()
	signalGroup(t.pid, t.start, syscall.SIGKILL)
	t.exited = true
	if t.timer != nil {
		t.timer.Stop()
	}
	t.mu.Unlock()
	o, _ := readExitStatus(t.sandbox)
	t.finish(o, true)
}

// finish settles the exit, removes the cgroup, records the exit in the
// sandbox and closes done.
func (t *procTask) finish(o outcome, attached bool) {
	t.mu.Lock()
	k := t.kill
	t.mu.Unlock()
	if attached && !o.known && k.escalated {
		// Only an untrappable signal stops the wrapper from writing its
		// status, and we sent SIGKILL.
		o = signalled("SIGKILL")
	}
	var oom uint64
	if t.cg != nil {
		var err error
		if oom, err = t.cg.OOMKills(); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.log.Warn("cannot read OOM kills", "err", err)
		}
		t.e.destroy(t.cg, t.log)
	}
	ex := buildExit(o, k, oom, t.spec.Task.Resources.MemMB)
	if err := writeExitFile(t.sandbox, ex); err != nil {
		t.log.Warn("cannot record the exit in the sandbox", "err", err)
	}
	t.mu.Lock()
	t.exit = ex
	t.mu.Unlock()
	t.log.Info("task ended", "state", ex.State, "reason", ex.Reason, "message", ex.Message)
	close(t.done)
}

// Usage sums the task's live processes: its process group and, with a
// cgroup, the cgroup's members (which catches processes that left the
// group with setsid).
func (t *procTask) Usage() (Usage, error) {
	select {
	case <-t.done:
		return Usage{}, ErrNotRunning
	default:
	}
	stats, err := allStats()
	if err != nil {
		return Usage{}, err
	}
	var members []int
	if t.cg != nil {
		members, _ = t.cg.Pids()
	}
	var ticks uint64
	var u Usage
	for _, s := range stats {
		inGroup := s.pgid == t.pid && s.start >= t.start
		if !inGroup && !slices.Contains(members, s.pid) {
			continue
		}
		u.Processes++
		ticks += s.utime + s.stime + s.cutime + s.cstime
		u.RSSBytes += uint64(max(s.rssPages, 0)) * uint64(os.Getpagesize())
	}
	if u.Processes == 0 {
		return Usage{}, ErrNotRunning
	}
	u.CPUSeconds = float64(ticks) / clockTicks
	return u, nil
}

// waitOutcome decodes the wrapper's wait status.
func waitOutcome(ps *os.ProcessState) outcome {
	if ps == nil {
		return outcome{}
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok {
		return exited(ps.ExitCode())
	}
	if ws.Signaled() {
		return signalled(signalName(ws.Signal()))
	}
	return shellStatus(ws.ExitStatus())
}

// shellStatus decodes a shell's $?: above 128 it means death by signal
// status-128.
func shellStatus(n int) outcome {
	if n > 128 && n <= 128+64 {
		return signalled(signalName(syscall.Signal(n - 128)))
	}
	return exited(n)
}

func signalName(s syscall.Signal) string {
	if name := unix.SignalName(s); name != "" {
		return name
	}
	return "SIG" + strconv.Itoa(int(s))
}
