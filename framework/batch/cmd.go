package batch

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/agora-cluster/agora/framework/batch/api"
	"github.com/agora-cluster/agora/framework/batch/sandbox"
)

// EnvAPI names the environment variable with the API address the CLI uses.
const EnvAPI = "AGORA_BATCH_API"

// ErrRunFailed is returned by submit --wait and run --wait when a run
// did not succeed, so that the command exits non-zero.
var ErrRunFailed = errors.New("run did not succeed")

// Command is `agora batch`.
func Command() *cli.Command {
	return &cli.Command{
		Name:  "batch",
		Usage: "the batch framework: jobs with retries, timeouts, DAG dependencies and cron",
		Subcommands: []*cli.Command{
			serveCommand(),
			submitCommand(),
			runCommand(),
			statusCommand(),
			historyCommand(),
			logsCommand(),
			killCommand(),
			rmCommand(),
		},
	}
}

// clientFlags are the flags every client subcommand has.
func clientFlags(extra ...cli.Flag) []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "api", Value: DefaultHTTPAddr, EnvVars: []string{EnvAPI}, Usage: "the batch framework's API address"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "text or json"},
	}, extra...)
}

func client(c *cli.Context) *api.Client { return api.NewClient(c.String("api")) }

func jsonOutput(c *cli.Context) (bool, error) {
	switch c.String("output") {
	case "json":
		return true, nil
	case "text", "":
		return false, nil
	}
	return false, fmt.Errorf("--output: want text or json, not %q", c.String("output"))
}

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the batch framework",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "nats", Usage: "NATS URL(s), comma separated", Required: true, EnvVars: []string{"AGORA_NATS"}},
			&cli.StringFlag{Name: "data-dir", Usage: "state file and framework ID", Required: true},
			&cli.StringFlag{Name: "http", Value: DefaultHTTPAddr, Usage: "API listen address"},
			&cli.StringFlag{Name: "name", Value: DefaultName, Usage: "framework name"},
			&cli.StringFlag{Name: "role", Usage: "role to register with (default: the default role)"},
			&cli.DurationFlag{Name: "failover-timeout", Value: DefaultFailoverTimeout, Usage: "how long the master keeps the tasks while the framework is away"},
			&cli.StringFlag{Name: "prefix", Usage: "subject prefix (default agora)"},
			&cli.StringSliceFlag{Name: "sandbox-dir", Usage: "agent work dir(s) on this host to read task output from (globs allowed)"},
			&cli.BoolFlag{Name: "no-sync", Usage: "do not fsync the state file (faster, unsafe on power loss)"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
		},
		Action: func(c *cli.Context) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			cfg := Config{
				NATSURLs:        strings.Split(c.String("nats"), ","),
				Prefix:          c.String("prefix"),
				DataDir:         c.String("data-dir"),
				HTTPAddr:        c.String("http"),
				Name:            c.String("name"),
				FailoverTimeout: c.Duration("failover-timeout"),
				NoSync:          c.Bool("no-sync"),
				Logger:          slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
			}
			if r := c.String("role"); r != "" {
				cfg.Roles = []string{r}
			}
			if dirs := c.StringSlice("sandbox-dir"); len(dirs) > 0 {
				cfg.Sandboxes = sandbox.NewLocal(dirs...)
			}
			s, err := Start(c.Context, cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "batch framework %s serving on %s\n", s.FrameworkID(), s.URL())
			ch := make(chan os.Signal, 1)
			signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
			select {
			case <-ch:
			case <-c.Context.Done():
			}
			signal.Stop(ch)
			s.Stop()
			return nil
		},
	}
}
