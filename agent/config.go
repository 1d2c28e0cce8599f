package agent

import (
	"errors"
	"log/slog"
	"time"

	"github.com/agora-cluster/agora/agent/launcher"
	"github.com/agora-cluster/agora/agent/resources"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Config configures an agent. Start from [DefaultConfig].
type Config struct {
	// ID is the agent's ID; empty means the one checkpointed in WorkDir,
	// or a new one written there.
	ID       wire.AgentID
	Hostname string
	// WorkDir holds the agent's checkpoints and task sandboxes.
	WorkDir  string
	NATSURLs []string
	Prefix   string
	// Resources overrides what is detected: a scalar is detected when it
	// is zero, unless ResourcesGiven names it (then zero means none).
	Resources wire.Resources
	// ResourcesGiven names the scalars of Resources set on purpose (the
	// --resources flag sets it).
	ResourcesGiven resources.Given
	Attributes     map[string]string
	// Executor runs tasks; nil means real processes in sandboxes.
	Executor launcher.Executor
	// KillGrace is the default time between SIGTERM and SIGKILL.
	KillGrace time.Duration
	// RegisterTimeout bounds one registration request.
	RegisterTimeout time.Duration
	// NoLeaderRetry is the least time an agent waits (it waits up to
	// twice that) before it asks again when no master leads: none
	// answered its registration, or the one that did had stepped down.
	// The new leader's announcement starts a registration sooner.
	NoLeaderRetry time.Duration
	// UpdateBackoffMin and UpdateBackoffMax bound the resend interval of
	// unacknowledged status updates.
	UpdateBackoffMin time.Duration
	UpdateBackoffMax time.Duration
	// SandboxGCDelay is how long the sandbox of an ended task is kept
	// (0 keeps sandboxes forever).
	SandboxGCDelay time.Duration
	// TLSCA is the CA (PEM file) to trust for a TLS NATS.
	TLSCA string
	// MetricsAddr, if set, serves Prometheus metrics at /metrics.
	MetricsAddr string
	Logger      *slog.Logger
}

// DefaultConfig returns the defaults; the caller sets WorkDir and NATSURLs.
func DefaultConfig() Config {
	return Config{
		Prefix:           wire.DefaultPrefix,
		KillGrace:        3 * time.Second,
		RegisterTimeout:  2 * time.Second,
		NoLeaderRetry:    time.Second,
		UpdateBackoffMin: time.Second,
		UpdateBackoffMax: time.Minute,
		SandboxGCDelay:   24 * time.Hour,
	}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.WorkDir == "" {
		errs = append(errs, errors.New("work dir is required"))
	}
	if len(c.NATSURLs) == 0 {
		errs = append(errs, errors.New("at least one NATS URL is required"))
	}
	if c.ID != "" {
		if err := wire.ValidID("agent id", string(c.ID)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.Resources.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.UpdateBackoffMin <= 0 || c.UpdateBackoffMax < c.UpdateBackoffMin {
		errs = append(errs, errors.New("update backoff: want 0 < min <= max"))
	}
	if c.RegisterTimeout <= 0 {
		errs = append(errs, errors.New("register timeout must be positive"))
	}
	if c.NoLeaderRetry <= 0 {
		errs = append(errs, errors.New("no-leader retry must be positive"))
	}
	return errors.Join(errs...)
}
