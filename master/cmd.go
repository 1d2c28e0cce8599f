package master

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/agora-cluster/agora/master/natsembed"
	"github.com/agora-cluster/agora/master/raftnode"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Command is `agora master`.
func Command() *cli.Command {
	d := DefaultConfig()
	return &cli.Command{
		Name:  "master",
		Usage: "run a master (one of three: a leader and two standbys)",
		Description: "The master runs the Go garbage collector at GOGC=50 (twice as often as Go's default:\n" +
			"less memory for a little CPU) unless the GOGC environment variable is set.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "name", Usage: "this master's name (its raft server ID)", Required: true},
			&cli.StringFlag{Name: "data-dir", Usage: "raft log, stable store and snapshots", Required: true},
			&cli.StringFlag{Name: "raft-addr", Usage: "raft transport address host:port", Required: true},
			&cli.StringFlag{Name: "peers", Usage: "every member: name=host:port,... (this one included)"},
			&cli.StringFlag{Name: "http", Value: "127.0.0.1:5050", Usage: "operator HTTP API address (empty to disable)"},
			&cli.StringFlag{Name: "nats", Usage: "external NATS URL(s), comma separated; default: embedded NATS"},
			&cli.StringFlag{Name: "nats-listen", Value: "127.0.0.1:4222", Usage: "embedded NATS client address"},
			&cli.StringFlag{Name: "nats-cluster", Usage: "embedded NATS route listener host:port (clustering)"},
			&cli.StringFlag{Name: "nats-routes", Usage: "other members' NATS routes, comma separated host:port"},
			&cli.StringFlag{Name: "nats-cluster-user", Usage: "user that NATS routes between masters log in as; every master must agree (default with --auth-file: the master identity)"},
			&cli.StringFlag{Name: "nats-cluster-password", EnvVars: []string{"AGORA_NATS_CLUSTER_PASSWORD"}, Usage: "password of --nats-cluster-user"},
			&cli.StringFlag{Name: "prefix", Value: wire.DefaultPrefix, Usage: "subject prefix"},
			&cli.DurationFlag{Name: "agent-heartbeat", Value: d.AgentHeartbeatInterval, Usage: "agent heartbeat interval"},
			&cli.DurationFlag{Name: "agent-timeout", Value: d.AgentTimeout, Usage: "silence after which an agent is unreachable"},
			&cli.Float64Flag{Name: "max-agent-heartbeats", Value: d.MaxAgentHeartbeats, Usage: "heartbeats per second asked of all agents together (0: no bound): with more agents, each heartbeats less often than --agent-heartbeat and is unreachable after proportionally more than --agent-timeout"},
			&cli.DurationFlag{Name: "agent-gone-timeout", Value: d.AgentGoneTimeout, Usage: "unreachable time after which an agent is gone (0: never)"},
			&cli.DurationFlag{Name: "offer-timeout", Value: d.OfferTimeout, Usage: "rescind offers held longer (0: never)"},
			&cli.DurationFlag{Name: "default-refuse", Value: d.DefaultRefuse, Usage: "filter of a DECLINE that names no refuse_seconds"},
			&cli.StringFlag{Name: "min-allocatable", Value: d.MinAllocatable.String(), Usage: "free resources of an agent smaller than this are not offered (\"cpus:0.01;mem:32\")"},
			&cli.DurationFlag{Name: "allocation-interval", Value: d.AllocationInterval, Usage: "period of the full allocation pass"},
			&cli.DurationFlag{Name: "raft-timeout", Value: raftnode.DefaultHeartbeatTimeout, Usage: "raft heartbeat and election timeout: a dead leader is replaced after about 2x this; raise it on slow disks or loaded machines (every master should agree)"},
			&cli.StringFlag{Name: "tls-cert", Usage: "certificate (PEM) for the HTTP API and the embedded NATS"},
			&cli.StringFlag{Name: "tls-key", Usage: "key (PEM) of --tls-cert"},
			&cli.StringFlag{Name: "tls-ca", Usage: "CA (PEM) that the master's own NATS client trusts; with --tls-cert and --nats-cluster, NATS routes between masters use TLS verified against it both ways (the certificate must allow server and client auth)"},
			&cli.StringFlag{Name: "auth-file", Usage: "JSON file of NATS identities (masters, agents, frameworks) for the embedded NATS"},
			&cli.StringFlag{Name: "operator-token", EnvVars: []string{"AGORA_OPERATOR_TOKEN"}, Usage: "token required by HTTP calls that change state"},
			&cli.BoolFlag{Name: "enable-debug", Usage: "serve Go profiles (pprof) under /debug/pprof/ on the HTTP API, behind the operator token"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
		},
		Action: func(c *cli.Context) error {
			cfg, err := configFromFlags(c)
			if err != nil {
				return err
			}
			log, err := NewLogger(c.String("log-level"))
			if err != nil {
				return err
			}
			if ec := cfg.EmbedNATS; ec.Cluster != "" && cfg.TLSCert != "" && cfg.TLSCA == "" {
				log.Warn("NATS routes between masters are not encrypted: add --tls-ca (the CA that signed every master's --tls-cert) to make them TLS")
			}
			if ec := cfg.EmbedNATS; ec.Cluster != "" && ec.ClusterUser == "" && cfg.Auth == nil {
				log.Warn("NATS routes are not authenticated: whoever reaches --nats-cluster joins the NATS cluster and sees every subject; use --auth-file or --nats-cluster-user/--nats-cluster-password")
			}
			cfg.Logger = log
			log.Debug("garbage collector", "gogc", applyGCPercent(os.Getenv))
			m, err := New(cfg)
			if err != nil {
				return err
			}
			log.Info("master running", "name", cfg.Name, "nats", m.NATSURL(), "http", m.HTTPAddr(), "raft", cfg.RaftAddr)
			WaitForSignal()
			m.Shutdown()
			return nil
		},
	}
}

// configFromFlags builds the master's configuration from its command line.
func configFromFlags(c *cli.Context) (Config, error) {
	cfg := DefaultConfig()
	cfg.OperatorToken = c.String("operator-token")
	cfg.EnableDebug = c.Bool("enable-debug")
	cfg.TLSCert, cfg.TLSKey, cfg.TLSCA = c.String("tls-cert"), c.String("tls-key"), c.String("tls-ca")
	if f := c.String("auth-file"); f != "" {
		a, err := natsembed.LoadAuth(f)
		if err != nil {
			return cfg, err
		}
		cfg.Auth = a
	}
	cfg.Name = c.String("name")
	cfg.DataDir = c.String("data-dir")
	cfg.RaftAddr = c.String("raft-addr")
	cfg.HTTPAddr = c.String("http")
	cfg.Prefix = c.String("prefix")
	cfg.AgentHeartbeatInterval = c.Duration("agent-heartbeat")
	cfg.AgentTimeout = c.Duration("agent-timeout")
	cfg.MaxAgentHeartbeats = c.Float64("max-agent-heartbeats")
	cfg.OfferTimeout = c.Duration("offer-timeout")
	cfg.AgentGoneTimeout = c.Duration("agent-gone-timeout")
	cfg.AllocationInterval = c.Duration("allocation-interval")
	rt := c.Duration("raft-timeout")
	if rt < 50*time.Millisecond {
		return cfg, fmt.Errorf("--raft-timeout %s: must be at least 50ms", rt)
	}
	cfg.RaftHeartbeatTimeout, cfg.RaftElectionTimeout = rt, rt
	peers, err := ParsePeers(c.String("peers"))
	if err != nil {
		return cfg, err
	}
	if len(peers) == 0 {
		peers = map[string]string{cfg.Name: cfg.RaftAddr}
	}
	cfg.Peers = peers
	if u := c.String("nats"); u != "" {
		cfg.NATSURLs = splitList(u)
	} else {
		cfg.EmbedNATS = natsembed.Config{
			Listen:          c.String("nats-listen"),
			Cluster:         c.String("nats-cluster"),
			Routes:          splitList(c.String("nats-routes")),
			ClusterUser:     c.String("nats-cluster-user"),
			ClusterPassword: c.String("nats-cluster-password"),
		}
	}
	cfg.DefaultRefuse = c.Duration("default-refuse")
	if cfg.DefaultRefuse < 0 {
		return cfg, fmt.Errorf("--default-refuse %s: must not be negative", cfg.DefaultRefuse)
	}
	minRes, err := wire.ParseResources(c.String("min-allocatable"))
	if err != nil {
		return cfg, fmt.Errorf("--min-allocatable: %w", err)
	}
	cfg.MinAllocatable = minRes
	return cfg, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// NewLogger returns a text logger on stderr at the named level.
func NewLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

// WaitForSignal blocks until SIGINT or SIGTERM.
func WaitForSignal() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	<-ch
	signal.Stop(ch)
}
