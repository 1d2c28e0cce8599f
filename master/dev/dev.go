// Package dev is `agora dev`: a whole cluster in one process — three
// masters with raft in a temporary directory and an embedded NATS cluster,
// plus agents running real processes — for trying Agora out.
package dev

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/agora-cluster/agora/framework/batch"
	"github.com/agora-cluster/agora/framework/service"
	"github.com/agora-cluster/agora/master"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Command is `agora dev`.
func Command() *cli.Command {
	return &cli.Command{
		Name:  "dev",
		Usage: "run a whole cluster (3 masters, embedded NATS, 2 agents) in this process",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "masters", Value: 3, Usage: "number of masters"},
			&cli.IntFlag{Name: "agents", Value: 2, Usage: "number of agents"},
			&cli.StringFlag{Name: "agent-resources", Value: "cpus:2;mem:2048;disk:10000;ports:[31000-31999]", Usage: "resources of each agent"},
			&cli.IntFlag{Name: "nats-port", Value: 4222, Usage: "NATS port of the first master (the others use the next ones); 0 picks free ports"},
			&cli.IntFlag{Name: "http-port", Value: 5050, Usage: "HTTP port of the first master (the others use the next ones); 0 picks free ports"},
			&cli.IntFlag{Name: "batch-port", Value: 8091, Usage: "HTTP port of the bundled batch framework (0 picks a free one)"},
			&cli.IntFlag{Name: "service-port", Value: 8090, Usage: "HTTP port of the bundled service framework (0 picks a free one)"},
			&cli.StringFlag{Name: "data-dir", Usage: "keep the cluster's data here (default: a temporary dir, removed on exit)"},
			&cli.StringFlag{Name: "log-level", Value: "warn", Usage: "debug, info, warn or error"},
		},
		Action: func(c *cli.Context) error {
			res, err := wire.ParseResources(c.String("agent-resources"))
			if err != nil {
				return fmt.Errorf("--agent-resources: %w", err)
			}
			if c.Int("masters") < 1 || c.Int("agents") < 0 {
				return fmt.Errorf("--masters must be at least 1 and --agents not negative")
			}
			log, err := master.NewLogger(c.String("log-level"))
			if err != nil {
				return err
			}
			cfg := sdktest.Config{Masters: c.Int("masters"), Dir: c.String("data-dir"), Logger: log,
				NATSBasePort: c.Int("nats-port"), HTTPBasePort: c.Int("http-port")}
			for range c.Int("agents") {
				cfg.AgentResources = append(cfg.AgentResources, res)
			}
			cl, err := sdktest.New(cfg)
			if err != nil {
				return err
			}
			defer cl.Close()
			if _, err := cl.WaitLeader(cliTimeout); err != nil {
				return fmt.Errorf("no leader elected: %w", err)
			}
			svc, err := service.Start(c.Context, service.Config{
				NATSURLs:  cl.NATSURLs(),
				DataDir:   filepath.Join(cl.Dir(), "service"),
				HTTPAddr:  fmt.Sprintf("127.0.0.1:%d", c.Int("service-port")),
				ProbeHost: func(string) string { return "127.0.0.1" }, // dev agents share this machine
				Logger:    log,
			})
			if err != nil {
				return fmt.Errorf("service framework: %w", err)
			}
			defer svc.Stop()
			bat, err := batch.Start(c.Context, batch.Config{
				NATSURLs: cl.NATSURLs(),
				DataDir:  filepath.Join(cl.Dir(), "batch"),
				HTTPAddr: fmt.Sprintf("127.0.0.1:%d", c.Int("batch-port")),
				Logger:   log,
			})
			if err != nil {
				return fmt.Errorf("batch framework: %w", err)
			}
			defer bat.Stop()
			PrintInfo(c.App.Writer, cl)
			fmt.Fprintf(c.App.Writer, "      go run . batch status --api %s   (the bundled batch framework)\n", bat.Addr())
			fmt.Fprintf(c.App.Writer, "      go run . service status --addr %s   (the bundled service framework)\n", svc.Addr())
			fmt.Fprintln(c.App.Writer, "Stop with Ctrl-C.")
			master.WaitForSignal()
			fmt.Fprintln(c.App.Writer, "stopping")
			return nil
		},
	}
}

// PrintInfo tells how to reach a dev cluster.
func PrintInfo(w io.Writer, cl *sdktest.Cluster) {
	urls := strings.Join(cl.NATSURLs(), ",")
	fmt.Fprintf(w, "Agora dev cluster running (data in %s)\n", cl.Dir())
	fmt.Fprintf(w, "  NATS:     %s\n", urls)
	for _, m := range cl.Masters() {
		role := "standby"
		if m.IsLeader() {
			role = "leader"
		}
		fmt.Fprintf(w, "  master %s: http://%s (%s)\n", m.Name(), m.HTTPAddr(), role)
	}
	for _, a := range cl.Agents() {
		fmt.Fprintf(w, "  agent %s: %s\n", a.ID(), a.Info().Resources)
	}
	fmt.Fprintf(w, "\nTry:  go run ./examples/hello --nats %s\n", urls)
	fmt.Fprintf(w, "      curl -L http://%s/api/v1/state\n", cl.Masters()[0].HTTPAddr())
}

const cliTimeout = 15 * time.Second
