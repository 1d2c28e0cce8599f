// Package dev is `agora dev`: a whole cluster in one process — three
// masters with raft in a temporary directory and an embedded NATS cluster,
// plus agents running real processes and the bundled batch and service
// frameworks — for trying Agora out.
//
// Security is on by default, as in production: dev generates a NATS
// identity for every member (masters, each agent, each bundled framework,
// and one for your own frameworks), authenticates the routes between the
// masters, requires an operator token on state-changing HTTP calls, keeps
// the material in its data dir (mode 0600) and prints how to connect.
// --insecure runs without any of it.
package dev

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/agora-cluster/agora/framework/batch"
	"github.com/agora-cluster/agora/framework/service"
	"github.com/agora-cluster/agora/master"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Options is what `agora dev` starts.
type Options struct {
	Masters        int
	Agents         int
	AgentResources wire.Resources
	// NATSPort and HTTPPort are master 1's ports (the others use the next
	// ones); 0 picks free ports. BatchPort and ServicePort are the bundled
	// frameworks' API ports (0: free ones).
	NATSPort, HTTPPort, BatchPort, ServicePort int
	// DataDir keeps the cluster's data ("" makes a temporary dir that
	// Close removes).
	DataDir string
	// Insecure turns off NATS authentication (clients and routes) and the
	// operator token.
	Insecure bool
	Logger   *slog.Logger
}

// Cluster is a running dev cluster.
type Cluster struct {
	cl      *sdktest.Cluster
	bat     *batch.Server
	svc     *service.Server
	creds   *credentials // nil when insecure
	dir     string
	tempDir bool
}

// Command is `agora dev`.
func Command() *cli.Command { return command(nil) }

// command is `agora dev`; started, if set, is given the running cluster
// (tests).
func command(started func(*Cluster)) *cli.Command {
	return &cli.Command{
		Name:  "dev",
		Usage: "run a whole cluster (3 masters, embedded NATS, 2 agents, batch and service) in this process, secured",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "masters", Value: 3, Usage: "number of masters"},
			&cli.IntFlag{Name: "agents", Value: 2, Usage: "number of agents"},
			&cli.StringFlag{Name: "agent-resources", Value: "cpus:2;mem:2048;disk:10000;ports:[31000-31999]", Usage: "resources of each agent"},
			&cli.IntFlag{Name: "nats-port", Value: 4222, Usage: "NATS port of the first master (the others use the next ones); 0 picks free ports"},
			&cli.IntFlag{Name: "http-port", Value: 5050, Usage: "HTTP port of the first master (the others use the next ones); 0 picks free ports"},
			&cli.IntFlag{Name: "batch-port", Value: 8091, Usage: "HTTP port of the bundled batch framework (0 picks a free one)"},
			&cli.IntFlag{Name: "service-port", Value: 8090, Usage: "HTTP port of the bundled service framework (0 picks a free one)"},
			&cli.StringFlag{Name: "data-dir", Usage: "keep the cluster's data (and its credentials) here (default: a temporary dir, removed on exit)"},
			&cli.BoolFlag{Name: "insecure", Usage: "no NATS logins, no route authentication, no operator token"},
			&cli.StringFlag{Name: "log-level", Value: "warn", Usage: "debug, info, warn or error"},
		},
		Action: func(c *cli.Context) error {
			res, err := wire.ParseResources(c.String("agent-resources"))
			if err != nil {
				return fmt.Errorf("--agent-resources: %w", err)
			}
			log, err := master.NewLogger(c.String("log-level"))
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			d, err := Start(ctx, Options{
				Masters: c.Int("masters"), Agents: c.Int("agents"), AgentResources: res,
				NATSPort: c.Int("nats-port"), HTTPPort: c.Int("http-port"),
				BatchPort: c.Int("batch-port"), ServicePort: c.Int("service-port"),
				DataDir: c.String("data-dir"), Insecure: c.Bool("insecure"), Logger: log,
			})
			if err != nil {
				return err
			}
			defer d.Close()
			d.PrintInfo(c.App.Writer)
			fmt.Fprintln(c.App.Writer, "Stop with Ctrl-C.")
			if started != nil {
				started(d)
			}
			<-ctx.Done()
			fmt.Fprintln(c.App.Writer, "stopping")
			return nil
		},
	}
}

// Start starts a dev cluster and waits until it has a leader and the
// bundled frameworks are subscribed.
func Start(ctx context.Context, o Options) (_ *Cluster, err error) {
	if o.Masters < 1 || o.Agents < 0 {
		return nil, errors.New("--masters must be at least 1 and --agents not negative")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	d := &Cluster{dir: o.DataDir}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	if d.dir == "" {
		if d.dir, err = os.MkdirTemp("", "agora-dev-"); err != nil {
			return nil, err
		}
		d.tempDir = true
	} else if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return nil, err
	}
	cfg := sdktest.Config{Masters: o.Masters, Dir: d.dir, Logger: log,
		NATSBasePort: o.NATSPort, HTTPBasePort: o.HTTPPort}
	for range o.Agents {
		cfg.AgentResources = append(cfg.AgentResources, o.AgentResources)
	}
	if !o.Insecure {
		if d.creds, err = loadOrCreateCredentials(d.dir, o.Agents); err != nil {
			return nil, fmt.Errorf("dev credentials: %w", err)
		}
		// The masters' auth also authenticates their NATS routes (with
		// the master identity).
		cfg.Auth, cfg.OperatorToken = d.creds.auth, d.creds.token
	}
	if d.cl, err = sdktest.New(cfg); err != nil {
		return nil, err
	}
	if _, err := d.cl.WaitLeader(startTimeout); err != nil {
		return nil, fmt.Errorf("no leader elected: %w", err)
	}
	fwCtx := context.WithoutCancel(ctx) // Close stops the frameworks
	d.svc, err = service.Start(fwCtx, service.Config{
		NATSURLs:  d.frameworkURLs(serviceUser),
		DataDir:   filepath.Join(d.dir, "service"),
		HTTPAddr:  fmt.Sprintf("127.0.0.1:%d", o.ServicePort),
		ProbeHost: func(string) string { return "127.0.0.1" }, // dev agents share this machine
		Logger:    log,
	})
	if err != nil {
		return nil, fmt.Errorf("service framework: %w", err)
	}
	d.bat, err = batch.Start(fwCtx, batch.Config{
		NATSURLs: d.frameworkURLs(batchUser),
		DataDir:  filepath.Join(d.dir, "batch"),
		HTTPAddr: fmt.Sprintf("127.0.0.1:%d", o.BatchPort),
		Logger:   log,
	})
	if err != nil {
		return nil, fmt.Errorf("batch framework: %w", err)
	}
	for name, id := range map[string]wire.FrameworkID{"batch": d.bat.FrameworkID(), "service": d.svc.FrameworkID()} {
		err := sdktest.WaitFor(startTimeout, func() bool {
			l := d.cl.Leader()
			if l == nil {
				return false
			}
			_, ok := l.Registry().Framework(id)
			return ok
		})
		if err != nil {
			return nil, fmt.Errorf("the bundled %s framework (%s) did not subscribe within %s; see the log", name, id, startTimeout)
		}
	}
	return d, nil
}

// frameworkURLs are the NATS URLs a bundled framework logs in with.
func (d *Cluster) frameworkURLs(user string) []string {
	if d.creds == nil {
		return d.cl.NATSURLs()
	}
	u := d.creds.user(user)
	return sdktest.WithURLUser(d.cl.NATSURLs(), u.Name, u.Password)
}

// SDK returns the underlying in-process cluster.
func (d *Cluster) SDK() *sdktest.Cluster { return d.cl }

// Dir is the cluster's data dir.
func (d *Cluster) Dir() string { return d.dir }

// Close stops the frameworks and the cluster; a temporary data dir is
// removed. It is safe to call on a half-started cluster.
func (d *Cluster) Close() {
	if d.bat != nil {
		d.bat.Stop()
	}
	if d.svc != nil {
		_ = d.svc.Stop()
	}
	if d.cl != nil {
		d.cl.Close()
	}
	if d.tempDir {
		_ = os.RemoveAll(d.dir)
	}
}

// PrintInfo tells how to reach the cluster and, when it is secured, how
// to log in.
func (d *Cluster) PrintInfo(w io.Writer) {
	cl := d.cl
	urls := strings.Join(cl.NATSURLs(), ",")
	var https []string
	fmt.Fprintf(w, "Agora dev cluster running (data in %s)\n", d.dir)
	if d.creds != nil {
		fmt.Fprintf(w, "  NATS:      %s (login required)\n", urls)
	} else {
		fmt.Fprintf(w, "  NATS:      %s (no login: --insecure)\n", urls)
	}
	for _, m := range cl.Masters() {
		role := "standby"
		if m.IsLeader() {
			role = "leader"
		}
		https = append(https, m.HTTPAddr())
		fmt.Fprintf(w, "  master %s: http://%s (%s)\n", m.Name(), m.HTTPAddr(), role)
	}
	for _, a := range cl.Agents() {
		fmt.Fprintf(w, "  agent %s: %s\n", a.ID(), a.Info().Resources)
	}
	fmt.Fprintf(w, "  batch:     http://%s (framework %s)\n", d.bat.Addr(), d.bat.FrameworkID())
	fmt.Fprintf(w, "  service:   http://%s (framework %s)\n", d.svc.Addr(), d.svc.FrameworkID())

	helloURLs := urls
	if d.creds != nil {
		ex := d.creds.user(ExamplesUser)
		helloURLs = strings.Join(sdktest.WithURLUser(cl.NATSURLs(), ex.Name, ex.Password), ",")
		fmt.Fprintf(w, "\nSecurity is on (agora dev --insecure turns it off):\n")
		fmt.Fprintf(w, "  - every NATS client logs in, and each agent and framework is confined to its own subjects;\n")
		fmt.Fprintf(w, "  - the masters' NATS routes log in too (as the master identity);\n")
		fmt.Fprintf(w, "  - HTTP calls that change state need the operator token.\n")
		fmt.Fprintf(w, "  Identities (an --auth-file for agora master): %s\n", d.creds.authPath)
		fmt.Fprintf(w, "  Operator token:                              %s\n", d.creds.tokPath)
		fmt.Fprintf(w, "  Your frameworks log in as %q and use one of the framework IDs %s:\n", ex.Name, strings.Join(ExampleIDs, ", "))
		fmt.Fprintf(w, "    NATS URLs:  %s\n", helloURLs)
		fmt.Fprintf(w, "    user %s, password %s\n", ex.Name, ex.Password)
	}
	fmt.Fprintf(w, "\nTry:\n")
	if d.creds != nil {
		fmt.Fprintf(w, "  export AGORA_MASTERS=%s AGORA_TOKEN=%s\n", strings.Join(https, ","), d.creds.token)
	} else {
		fmt.Fprintf(w, "  export AGORA_MASTERS=%s\n", strings.Join(https, ","))
	}
	fmt.Fprintf(w, "  go run . cluster status\n")
	if d.creds != nil {
		fmt.Fprintf(w, "  go run . cluster role set --weight 2 dev   (changes state: uses AGORA_TOKEN)\n")
	} else {
		fmt.Fprintf(w, "  go run . cluster role set --weight 2 dev\n")
	}
	if d.creds != nil {
		fmt.Fprintf(w, "  go run ./examples/hello --nats %s --framework-id hello\n", helloURLs)
	} else {
		fmt.Fprintf(w, "  go run ./examples/hello --nats %s\n", helloURLs)
	}
	fmt.Fprintf(w, "  curl -L http://%s/api/v1/state\n", https[0])
	fmt.Fprintf(w, "  go run . batch status --api %s   (the bundled batch framework)\n", d.bat.Addr())
	fmt.Fprintf(w, "  go run . service status --addr %s   (the bundled service framework)\n", d.svc.Addr())
}

const startTimeout = 15 * time.Second
