//go:build linux

package launcher

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/agora-cluster/agora/agent/isolation"
)

// wrapperScript runs as `sh -c wrapperScript agora-task <cgroup.procs
// files, space separated> <command...>` in the sandbox. It must not set
// variables the command could see before running it, hence the odd name.
// `trap :` (a handler, not "ignore") lets the wrapper outlive the SIGTERM
// sent to the group while the command starts with default dispositions.
const wrapperScript = `for __agora_cg in $1; do echo $$ > "$__agora_cg" || echo "agora: could not join cgroup $__agora_cg" >&2; done
unset __agora_cg
shift
trap : HUP INT TERM
"$@"
__agora_rc=$?
echo $__agora_rc > ` + ExitStatusFile + `
exit $__agora_rc
`

// ProcessExecutor runs tasks as process groups under the exit-status
// wrapper, in sandboxes, confined by cgroups where the kernel allows.
type ProcessExecutor struct {
	cfg  ProcessConfig
	log  *slog.Logger
	iso  *isolation.Manager
	base map[string]string
}

var _ Executor = (*ProcessExecutor)(nil)

// NewProcessExecutor creates the work directory and detects isolation
// (which never fails; see Isolation).
func NewProcessExecutor(cfg ProcessConfig) (*ProcessExecutor, error) {
	cfg = cfg.withDefaults()
	if cfg.WorkDir == "" {
		return nil, errors.New("launcher: work dir is required")
	}
	abs, err := filepath.Abs(cfg.WorkDir)
	if err != nil {
		return nil, fmt.Errorf("launcher: work dir: %w", err)
	}
	cfg.WorkDir = abs
	if err := os.MkdirAll(cfg.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("launcher: work dir: %w", err)
	}
	if _, err := os.Stat(cfg.Shell); err != nil {
		return nil, fmt.Errorf("launcher: shell: %w", err)
	}
	e := &ProcessExecutor{cfg: cfg, log: cfg.Logger, iso: isolation.Detect(cfg.Isolation), base: baseEnv()}
	if !e.iso.Enabled() && !cfg.Isolation.Disable {
		e.log.Warn("tasks run without cgroup limits", "isolation", e.iso.String())
	}
	return e, nil
}

// Name returns "process".
func (e *ProcessExecutor) Name() string { return "process" }

// Isolation describes how tasks are confined: "cgroups-v1(cpu,memory)",
// "cgroups-v2(cpu,memory)" or "none: <reason>".
func (e *ProcessExecutor) Isolation() string { return e.iso.String() }

// WorkDir returns the absolute work directory.
func (e *ProcessExecutor) WorkDir() string { return e.cfg.WorkDir }

// Launch starts spec's command under the wrapper and returns once the
// wrapper runs. A program that cannot be found is an error (ErrLaunch);
// one that fails later is a TASK_FAILED exit.
func (e *ProcessExecutor) Launch(ctx context.Context, spec Spec) (Task, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := validateProcessSpec(spec); err != nil {
		return nil, err
	}
	sandbox, run, err := makeSandbox(e.cfg.WorkDir, spec)
	if err != nil {
		return nil, err
	}
	spec.Run = run
	log := e.log.With("framework", spec.FrameworkID, "task", spec.Task.TaskID, "run", run)
	t, err := e.start(spec, sandbox, log)
	if err != nil {
		// Nothing ran: leave no run directory behind.
		_ = os.RemoveAll(sandbox)
		return nil, err
	}
	return t, nil
}

// start starts the wrapper in a fresh sandbox.
func (e *ProcessExecutor) start(spec Spec, sandbox string, log *slog.Logger) (*procTask, error) {
	run := spec.Run
	env := taskEnv(e.base, spec, sandbox, run)
	argv, err := e.argv(spec, sandbox, env)
	if err != nil {
		return nil, err
	}
	stdout, err := os.OpenFile(filepath.Join(sandbox, StdoutFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLaunch, err)
	}
	defer stdout.Close()
	stderr, err := os.OpenFile(filepath.Join(sandbox, StderrFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLaunch, err)
	}
	defer stderr.Close()
	if err := os.WriteFile(filepath.Join(sandbox, MessagesFile), nil, 0o644); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLaunch, err)
	}

	cg := e.cgroup(spec, run, log)
	var procs []string
	if cg != nil {
		procs = cg.ProcsFiles()
	}
	args := append([]string{"-c", wrapperScript, "agora-task", strings.Join(procs, " ")}, argv...)
	cmd := exec.Command(e.cfg.Shell, args...)
	cmd.Dir, cmd.Env = sandbox, env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		if cg != nil {
			e.destroy(cg, log)
		}
		return nil, fmt.Errorf("%w: task %s: %w", ErrLaunch, spec.Task.TaskID, err)
	}
	pid := cmd.Process.Pid
	// The child cannot have been reaped yet, so its stat is readable.
	st, err := readStat(pid)
	if err != nil {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if cg != nil {
			e.destroy(cg, log)
		}
		return nil, fmt.Errorf("%w: task %s: read start time: %w", ErrLaunch, spec.Task.TaskID, err)
	}
	t := e.newTask(spec, pid, st.start, sandbox, cg, time.Now(), log)
	t.child = true
	log.Info("task launched", "pid", pid, "sandbox", sandbox, "cgroup", cg != nil)
	go t.waitChild(cmd)
	return t, nil
}

// argv is the command the wrapper runs. A program given without a shell
// must be found now, with the task's PATH, relative to the sandbox; it
// runs by its resolved path.
func (e *ProcessExecutor) argv(spec Spec, sandbox string, env []string) ([]string, error) {
	c := spec.Task.Command
	if c.Shell {
		return []string{e.cfg.Shell, "-c", c.Value}, nil
	}
	prog := c.Value
	if strings.Contains(prog, "/") {
		p := prog
		if !filepath.IsAbs(p) {
			p = filepath.Join(sandbox, p)
		}
		if err := executable(p); err != nil {
			return nil, fmt.Errorf("%w: task %s: %w", ErrLaunch, spec.Task.TaskID, err)
		}
	} else {
		path := defaultPath
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, "PATH="); ok {
				path = v
			}
		}
		// Resolved here, so that the wrapper runs the program and never a
		// shell builtin of the same name (echo, kill, test ...).
		resolved := ""
		for _, dir := range filepath.SplitList(path) {
			if dir == "" {
				dir = "."
			}
			if !filepath.IsAbs(dir) {
				dir = filepath.Join(sandbox, dir)
			}
			if executable(filepath.Join(dir, prog)) == nil {
				resolved = filepath.Join(dir, prog)
				break
			}
		}
		if resolved == "" {
			return nil, fmt.Errorf("%w: task %s: %q not found in PATH %s", ErrLaunch, spec.Task.TaskID, prog, path)
		}
		prog = resolved
	}
	return append([]string{prog}, c.Args...), nil
}

func executable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

// cgroup creates the task's cgroup, or returns nil (logged) if isolation
// is off or creation fails: the task then runs without limits.
func (e *ProcessExecutor) cgroup(spec Spec, run int, log *slog.Logger) *isolation.Cgroup {
	if !e.iso.Enabled() {
		return nil
	}
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	name := fmt.Sprintf("%s_%s_%d", spec.FrameworkID, spec.Task.TaskID, run)
	name = cgroupName(name, 180) + "_" + hex.EncodeToString(suffix[:])
	lim := isolation.Limits{CPUs: spec.Task.Resources.CPUs, MemoryBytes: uint64(spec.Task.Resources.MemMB * (1 << 20))}
	cg, err := e.iso.Create(name, lim)
	if err != nil {
		log.Warn("task runs without cgroup limits", "err", err)
		return nil
	}
	return cg
}

// cgroupName keeps [A-Za-z0-9_.-] and turns anything else into '_'.
func cgroupName(s string, maxLen int) string {
	b := []byte(s)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
		if !ok {
			b[i] = '_'
		}
	}
	if len(b) > maxLen {
		b = b[:maxLen]
	}
	return string(b)
}

func (e *ProcessExecutor) destroy(cg *isolation.Cgroup, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cg.Destroy(ctx); err != nil {
		log.Warn("cannot remove task cgroup", "err", err)
	}
}

// Attach re-attaches to a task launched by a process executor (this one or
// an earlier agent's). A live process must have the checkpointed pid and
// start time. For a process that is gone, the Task is returned already
// Done if its exit is known from the sandbox (ExitFile, else the wrapper's
// ExitStatusFile); otherwise Attach kills what is left of its group and
// cgroup, records an unknown exit in ExitFile and returns ErrGone.
func (e *ProcessExecutor) Attach(ctx context.Context, cp Checkpoint) (Task, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cp.Executor != e.Name() {
		return nil, fmt.Errorf("%w: %q, not %q", ErrWrongExecutor, cp.Executor, e.Name())
	}
	if cp.Pid <= 1 || cp.StartTicks == 0 || !filepath.IsAbs(cp.Sandbox) {
		return nil, fmt.Errorf("%w: checkpoint without pid, start time or sandbox", ErrInvalidSpec)
	}
	log := e.log.With("framework", cp.Spec.FrameworkID, "task", cp.Spec.Task.TaskID, "run", cp.Spec.Run)
	var cg *isolation.Cgroup
	if cp.Cgroup != nil {
		var err error
		if cg, err = isolation.Open(*cp.Cgroup); err != nil {
			log.Warn("ignoring the checkpointed cgroup", "err", err)
		}
	}
	t := e.newTask(cp.Spec, cp.Pid, cp.StartTicks, cp.Sandbox, cg, cp.Started, log)
	if st, err := readStat(cp.Pid); err == nil && st.start == cp.StartTicks && !st.dead() {
		log.Info("task re-attached", "pid", cp.Pid)
		go t.watch()
		return t, nil
	}
	if ex, err := ReadExit(cp.Sandbox); err == nil {
		// A launcher saw the end already and recorded it.
		if cg != nil {
			e.destroy(cg, log)
		}
		t.mu.Lock()
		t.exited, t.exit = true, ex
		t.mu.Unlock()
		close(t.done)
		return t, nil
	}
	o, ok := readExitStatus(cp.Sandbox)
	if !ok {
		signalGroup(cp.Pid, cp.StartTicks, syscall.SIGKILL)
		if cg != nil {
			e.destroy(cg, log)
		}
		// Mark the run finished, so that GCSandboxes can collect it.
		if err := writeExitFile(cp.Sandbox, buildExit(outcome{}, killInfo{}, 0, 0)); err != nil {
			log.Warn("cannot record the exit in the sandbox", "err", err)
		}
		return nil, fmt.Errorf("%w: task %s: pid %d with start time %d is not running and left no %s",
			ErrGone, cp.Spec.Task.TaskID, cp.Pid, cp.StartTicks, ExitStatusFile)
	}
	t.mu.Lock()
	t.exited = true
	t.mu.Unlock()
	t.finish(o, true)
	return t, nil
}

// readExitStatus reads the wrapper's status file.
func readExitStatus(sandbox string) (outcome, bool) {
	b, err := os.ReadFile(filepath.Join(sandbox, ExitStatusFile))
	if err != nil {
		return outcome{}, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n < 0 || n > 255 {
		return outcome{}, false
	}
	return shellStatus(n), true
}
