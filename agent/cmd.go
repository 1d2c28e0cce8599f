package agent

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/agora-cluster/agora/agent/resources"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Command is `agora agent`.
func Command() *cli.Command {
	d := DefaultConfig()
	return &cli.Command{
		Name:  "agent",
		Usage: "run an agent that offers this machine's resources and runs tasks",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "nats", Usage: "NATS URL(s), comma separated", Required: true},
			&cli.StringFlag{Name: "work-dir", Usage: "checkpoints and task sandboxes", Required: true},
			&cli.StringFlag{Name: "id", Usage: "agent ID (default: the one in the work dir, or a new one)"},
			&cli.StringFlag{Name: "hostname", Usage: "hostname to advertise (default: this machine's)"},
			&cli.StringFlag{Name: "resources", Usage: `override detected resources, e.g. "cpus:4;mem:8192;disk:20000" (a value given is used as is, 0 included)`},
			&cli.StringFlag{Name: "ports", Usage: "port ranges to offer, e.g. 31000-32000"},
			&cli.StringFlag{Name: "attributes", Usage: `attributes for placement, e.g. "rack:r1;zone:a"`},
			&cli.StringFlag{Name: "prefix", Value: wire.DefaultPrefix, Usage: "subject prefix"},
			&cli.DurationFlag{Name: "kill-grace", Value: d.KillGrace, Usage: "default time between SIGTERM and SIGKILL"},
			&cli.DurationFlag{Name: "update-backoff-min", Value: d.UpdateBackoffMin, Usage: "first resend interval of an unacknowledged status update (doubles on each resend)"},
			&cli.DurationFlag{Name: "update-backoff-max", Value: d.UpdateBackoffMax, Usage: "longest resend interval of an unacknowledged status update"},
			&cli.DurationFlag{Name: "sandbox-gc-delay", Value: d.SandboxGCDelay, Usage: "how long an ended task's sandbox is kept (0 keeps sandboxes forever)"},
			&cli.StringFlag{Name: "tls-ca", Usage: "CA (PEM) to trust when NATS uses TLS"},
			&cli.StringFlag{Name: "metrics", Usage: "serve Prometheus metrics at http://ADDR/metrics"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
		},
		Action: func(c *cli.Context) error {
			cfg, err := configFromFlags(c)
			if err != nil {
				return err
			}
			a, err := Start(cfg)
			if err != nil {
				return err
			}
			ch := make(chan os.Signal, 1)
			signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
			<-ch
			// Tasks keep running: a restarted agent recovers them.
			a.Stop(false)
			return nil
		},
	}
}

// configFromFlags builds the agent's configuration from `agora agent`'s
// flags.
func configFromFlags(c *cli.Context) (Config, error) {
	cfg := DefaultConfig()
	cfg.NATSURLs = strings.Split(c.String("nats"), ",")
	cfg.WorkDir = c.String("work-dir")
	cfg.ID = wire.AgentID(c.String("id"))
	cfg.Hostname = c.String("hostname")
	cfg.Prefix = c.String("prefix")
	cfg.KillGrace = c.Duration("kill-grace")
	cfg.UpdateBackoffMin = c.Duration("update-backoff-min")
	cfg.UpdateBackoffMax = c.Duration("update-backoff-max")
	cfg.SandboxGCDelay = c.Duration("sandbox-gc-delay")
	cfg.MetricsAddr = c.String("metrics")
	cfg.TLSCA = c.String("tls-ca")
	var err error
	if cfg.Resources, cfg.ResourcesGiven, err = resources.ParseOverride(c.String("resources")); err != nil {
		return cfg, fmt.Errorf("--resources: %w", err)
	}
	if p := c.String("ports"); p != "" {
		if cfg.Resources.Ports, err = wire.ParseRanges(p); err != nil {
			return cfg, fmt.Errorf("--ports: %w", err)
		}
	}
	if cfg.Attributes, err = resources.ParseAttributes(c.String("attributes")); err != nil {
		return cfg, fmt.Errorf("--attributes: %w", err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return cfg, fmt.Errorf("--log-level: %w", err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	return cfg, nil
}
