package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/agora-cluster/agora/framework/service/controller"
	"github.com/agora-cluster/agora/framework/service/events"
)

// Command returns `agora service`: `serve` runs the framework; the other
// subcommands talk to its API (--addr, or $AGORA_SERVICE_ADDR).
func Command() *cli.Command {
	return &cli.Command{
		Name:  "service",
		Usage: "the long-running service framework (apps, instances, deployments)",
		Subcommands: []*cli.Command{
			serveCommand(),
			{
				Name: "deploy", Usage: "deploy an app spec (YAML or JSON; - reads stdin)", ArgsUsage: "FILE",
				Flags: clientFlags(waitFlags()...), Action: deployAction,
			},
			{
				Name: "scale", Usage: "set an app's instances", ArgsUsage: "APP N",
				Flags: clientFlags(waitFlags()...), Action: scaleAction,
			},
			{
				Name: "restart", Usage: "replace every instance of an app, rolling", ArgsUsage: "APP",
				Flags: clientFlags(waitFlags()...), Action: restartAction,
			},
			{
				Name: "status", Usage: "show every app, or one app with its instances", ArgsUsage: "[APP]",
				Flags: clientFlags(), Action: statusAction,
			},
			{
				Name: "versions", Usage: "list an app's versions", ArgsUsage: "APP",
				Flags: clientFlags(), Action: versionsAction,
			},
			{
				Name: "rollback", Usage: "deploy an earlier version again (default: the previous one)", ArgsUsage: "APP",
				Flags:  clientFlags(append(waitFlags(), &cli.IntFlag{Name: "to", Usage: "version to roll back to"})...),
				Action: rollbackAction,
			},
			{
				Name: "endpoints", Usage: "list host:port of an app's healthy instances", ArgsUsage: "APP",
				Flags: clientFlags(), Action: endpointsAction,
			},
			{
				Name: "rm", Usage: "stop every instance of an app and remove it", ArgsUsage: "APP",
				Flags: clientFlags(waitFlags()...), Action: rmAction,
			},
			{
				Name: "events", Usage: "stream events (status, health, deployment steps)",
				Flags:  clientFlags(&cli.StringFlag{Name: "app", Usage: "only this app's events"}),
				Action: eventsAction,
			},
		},
	}
}

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the service framework",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "nats", Usage: "NATS URL(s), comma separated", Required: true},
			&cli.StringFlag{Name: "data-dir", Usage: "state and framework ID", Required: true},
			&cli.StringFlag{Name: "http", Value: DefaultHTTPAddr, Usage: "API address"},
			&cli.StringFlag{Name: "name", Value: "service", Usage: "framework name"},
			&cli.StringSliceFlag{Name: "role", Usage: "framework role (repeatable)"},
			&cli.StringFlag{Name: "prefix", Usage: "subject prefix (default agora)"},
			&cli.DurationFlag{Name: "failover-timeout", Value: 7 * 24 * time.Hour, Usage: "how long instances outlive a stopped framework"},
			&cli.StringFlag{Name: "probe-host", Usage: "reach every agent at this host for health checks and endpoints (single-machine clusters whose agent hostnames do not resolve)"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
		},
		Action: func(c *cli.Context) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			cfg := Config{
				NATSURLs:        strings.Split(c.String("nats"), ","),
				Prefix:          c.String("prefix"),
				DataDir:         c.String("data-dir"),
				HTTPAddr:        c.String("http"),
				Name:            c.String("name"),
				Roles:           c.StringSlice("role"),
				FailoverTimeout: c.Duration("failover-timeout"),
				Logger:          log,
			}
			if h := c.String("probe-host"); h != "" {
				cfg.ProbeHost = func(string) string { return h }
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			s, err := Start(ctx, cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "service framework %s: API on http://%s\n", s.FrameworkID(), s.Addr())
			<-ctx.Done()
			return s.Stop()
		},
	}
}

func clientFlags(extra ...cli.Flag) []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "addr", Value: DefaultHTTPAddr, EnvVars: []string{"AGORA_SERVICE_ADDR"}, Usage: "the service framework's API"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "text or json"},
	}, extra...)
}

func waitFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "wait", Usage: "follow the deployment until it ends; fail unless it succeeds"},
		&cli.DurationFlag{Name: "timeout", Value: 10 * time.Minute, Usage: "how long --wait waits"},
	}
}

// client returns the API client and whether JSON output was asked for.
func client(c *cli.Context) (*Client, bool, error) {
	switch o := c.String("output"); o {
	case "text", "json":
		return NewClient(c.String("addr")), o == "json", nil
	default:
		return nil, false, fmt.Errorf("--output %q: want text or json", o)
	}
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func args(c *cli.Context, n int, usage string) ([]string, error) {
	pos, err := positional(c)
	if err != nil {
		return nil, err
	}
	if len(pos) != n {
		return nil, fmt.Errorf("usage: agora service %s %s", c.Command.Name, usage)
	}
	return pos, nil
}

// positional returns the command's positional arguments, applying flags
// given after them ("deploy app.yaml --wait"): urfave/cli stops parsing
// flags at the first positional argument.
func positional(c *cli.Context) ([]string, error) {
	in := c.Args().Slice()
	var pos []string
	for i := 0; i < len(in); i++ {
		a := in[i]
		if a == "--" {
			return append(pos, in[i+1:]...), nil
		}
		if len(a) < 2 || a[0] != '-' || a == "-" {
			pos = append(pos, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := lookupFlag(c.Command.Flags, name)
		if f == nil {
			return nil, fmt.Errorf("flag provided but not defined: -%s", name)
		}
		if _, isBool := f.(*cli.BoolFlag); isBool {
			if !hasValue {
				value = "true"
			}
		} else if !hasValue {
			if i+1 >= len(in) {
				return nil, fmt.Errorf("flag needs an argument: -%s", name)
			}
			i++
			value = in[i]
		}
		for _, n := range f.Names() { // aliases are separate flags in the set
			if err := c.Set(n, value); err != nil {
				return nil, fmt.Errorf("-%s: %w", name, err)
			}
		}
	}
	return pos, nil
}

func lookupFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

func deployAction(c *cli.Context) error {
	a, err := args(c, 1, "FILE")
	if err != nil {
		return err
	}
	var doc []byte
	if a[0] == "-" { // stdin
		doc, err = io.ReadAll(c.App.Reader)
	} else {
		doc, err = os.ReadFile(a[0])
	}
	if err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	cl, js, err := client(c)
	if err != nil {
		return err
	}
	res, err := cl.Deploy(c.Context, doc)
	if err != nil {
		return explain(err)
	}
	return afterChange(c, cl, js, res)
}

// explain turns an API validation error into a multi-line message.
func explain(err error) error {
	var ae *APIError
	if errors.As(err, &ae) && len(ae.Fields) > 0 {
		lines := []string{"invalid app spec:"}
		for _, f := range ae.Fields {
			lines = append(lines, "  "+f.Error())
		}
		return errors.New(strings.Join(lines, "\n"))
	}
	return err
}

func afterChange(c *cli.Context, cl *Client, js bool, res controller.DeployResult) error {
	w := c.App.Writer
	if !c.Bool("wait") {
		if js {
			return printJSON(w, res)
		}
		if res.NoChange {
			fmt.Fprintf(w, "app %s: no change (version %d)\n", res.App, res.Version)
			return nil
		}
		fmt.Fprintf(w, "app %s: version %d, deployment %s\n", res.App, res.Version, res.Deployment)
		return nil
	}
	if !js {
		fmt.Fprintf(w, "app %s: version %d", res.App, res.Version)
		if res.NoChange {
			fmt.Fprint(w, " (no change)")
		}
		fmt.Fprintln(w)
	}
	if res.Deployment == "" {
		return nil
	}
	d, err := WaitDeployment(c.Context, cl, res.Deployment, c.Duration("timeout"), func(s controller.Step) {
		if !js {
			fmt.Fprintf(w, "  %s  %s\n", s.Time.Local().Format("15:04:05.000"), s.Message)
		}
	})
	if js {
		_ = printJSON(w, d)
	}
	return err
}

// WaitDeployment polls a deployment until it ends, calling step for each
// new step, and returns it; the error is non-nil unless it succeeded.
func WaitDeployment(ctx context.Context, cl *Client, id string, timeout time.Duration, step func(controller.Step)) (controller.Deployment, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	seen := 0
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		d, err := cl.Deployment(ctx, id)
		if err != nil {
			return d, err
		}
		if seen > len(d.Steps) { // the step log was trimmed
			seen = 0
		}
		for _, s := range d.Steps[seen:] {
			if step != nil {
				step(s)
			}
		}
		seen = len(d.Steps)
		if d.State.Done() {
			if d.State != controller.DeploymentSucceeded {
				return d, fmt.Errorf("deployment %s %s: %s", d.ID, d.State, d.Message)
			}
			return d, nil
		}
		select {
		case <-ctx.Done():
			return d, fmt.Errorf("deployment %s still %s (%s): %w", d.ID, d.State, d.Waiting, ctx.Err())
		case <-tick.C:
		}
	}
}

func scaleAction(c *cli.Context) error {
	a, err := args(c, 2, "APP N")
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(a[1])
	if err != nil {
		return fmt.Errorf("N: %w", err)
	}
	cl, js, err := client(c)
	if err != nil {
		return err
	}
	res, err := cl.Scale(c.Context, a[0], n)
	if err != nil {
		return explain(err)
	}
	return afterChange(c, cl, js, res)
}

func restartAction(c *cli.Context) error {
	a, err := args(c, 1, "APP")
	if err != nil {
		return err
	}
	cl, js, err := client(c)
	if err != nil {
		return err
	}
	res, err := cl.Restart(c.Context, a[0])
	if err != nil {
		return err
	}
	return afterChange(c, cl, js, res)
}

func rollbackAction(c *cli.Context) error {
	a, err := args(c, 1, "APP [--to V]")
	if err != nil {
		return err
	}
	cl, js, err := client(c)
	if err != nil {
		return err
	}
	res, err := cl.Rollback(c.Context, a[0], c.Int("to"))
	if err != nil {
		return err
	}
	return afterChange(c, cl, js, res)
}

func rmAction(c *cli.Context) error {
	a, err := args(c, 1, "APP")
	if err != nil {
		return err
	}
	cl, js, err := client(c)
	if err != nil {
		return err
	}
	if err := cl.Remove(c.Context, a[0]); err != nil {
		return err
	}
	if c.Bool("wait") {
		ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
		defer cancel()
		for {
			_, err := cl.App(ctx, a[0])
			var ae *APIError
			if errors.As(err, &ae) && ae.Code == CodeNotFound {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("app %s not removed yet: %w", a[0], ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	if js {
		return printJSON(c.App.Writer, map[string]string{"app": a[0], "state": "removed"})
	}
	fmt.Fprintf(c.App.Writer, "app %s removed\n", a[0])
	return nil
}

func eventsAction(c *cli.Context) error {
	cl, js, err := client(c)
	if err != nil {
		return err
	}
	w := c.App.Writer
	return cl.Events(c.Context, 0, c.String("app"), func(e events.Event) error {
		if js {
			b, _ := json.Marshal(e)
			_, err := fmt.Fprintln(w, string(b))
			return err
		}
		_, err := fmt.Fprintf(w, "%s %-18s %s %s %s %s\n", e.Time.Local().Format("15:04:05.000"), e.Type, e.App, e.Instance, e.State, e.Message)
		return err
	})
}

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }
