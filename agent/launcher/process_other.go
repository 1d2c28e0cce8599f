//go:build !linux

package launcher

import "context"

// ProcessExecutor runs tasks as processes; it needs Linux.
type ProcessExecutor struct{}

// NewProcessExecutor returns ErrUnsupported off Linux.
func NewProcessExecutor(cfg ProcessConfig) (*ProcessExecutor, error) { return nil, ErrUnsupported }

// Name returns "process".
func (e *ProcessExecutor) Name() string { return "process" }

// Isolation says that nothing is isolated.
func (e *ProcessExecutor) Isolation() string { return "none: not Linux" }

// Launch returns ErrUnsupported.
func (e *ProcessExecutor) Launch(ctx context.Context, spec Spec) (Task, error) {
	return nil, ErrUnsupported
}

// Attach returns ErrUnsupported.
func (e *ProcessExecutor) Attach(ctx context.Context, cp Checkpoint) (Task, error) {
	return nil, ErrUnsupported
}
