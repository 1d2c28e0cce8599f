package launcher

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/agora-cluster/agora/agent/isolation"
)

// DefaultKillGrace is the time between SIGTERM and SIGKILL when neither
// the task nor the configuration says otherwise.
const DefaultKillGrace = 3 * time.Second

// ProcessConfig configures a ProcessExecutor.
type ProcessConfig struct {
	// WorkDir holds the sandboxes; it is created if missing. Required.
	WorkDir string
	// DefaultKillGrace applies to tasks without a KillGrace. Default 3s.
	DefaultKillGrace time.Duration
	// Logger receives one line per launch and exit. Default slog.Default().
	Logger *slog.Logger
	// Isolation configures cgroups (the zero value: use them if possible).
	Isolation isolation.Config
	// AttachPollInterval is how often a re-attached task's pid is checked.
	// Default 1s.
	AttachPollInterval time.Duration
	// Shell runs the wrapper and shell commands. Default /bin/sh.
	Shell string
}

func (c ProcessConfig) withDefaults() ProcessConfig {
	if c.DefaultKillGrace <= 0 {
		c.DefaultKillGrace = DefaultKillGrace
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.AttachPollInterval <= 0 {
		c.AttachPollInterval = time.Second
	}
	if c.Shell == "" {
		c.Shell = "/bin/sh"
	}
	return c
}

// validateProcessSpec checks what Launch needs before it touches the disk.
func validateProcessSpec(spec Spec) error {
	if err := pathComponent("framework id", string(spec.FrameworkID)); err != nil {
		return err
	}
	if err := pathComponent("task id", string(spec.Task.TaskID)); err != nil {
		return err
	}
	if spec.Task.Sim != nil {
		return fmt.Errorf("%w: task %s asks for a simulated outcome (sim), but this agent runs real processes", ErrInvalidSpec, spec.Task.TaskID)
	}
	if spec.Task.Command.Value == "" {
		return fmt.Errorf("%w: task %s has no command", ErrInvalidSpec, spec.Task.TaskID)
	}
	if strings.ContainsRune(spec.Task.Command.Value, 0) {
		return fmt.Errorf("%w: task %s: command contains a NUL byte", ErrInvalidSpec, spec.Task.TaskID)
	}
	for k, v := range spec.Task.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return fmt.Errorf("%w: task %s: invalid environment variable %q", ErrInvalidSpec, spec.Task.TaskID, k)
		}
	}
	if spec.Task.KillGrace < 0 {
		return fmt.Errorf("%w: task %s: negative kill_grace", ErrInvalidSpec, spec.Task.TaskID)
	}
	return nil
}
