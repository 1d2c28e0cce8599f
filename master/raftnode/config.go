package raftnode

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"
)

// LAN defaults for the raft timeouts. hashicorp/raft's own defaults (1 s
// heartbeat and election, 500 ms lease, 50 ms commit) are tuned for a WAN.
//
// A follower that still hears from a leader refuses to vote, so after the
// leader dies the election completes only once both survivors' heartbeat
// timers (randomised between 1x and 2x the timeout) have fired: about
// 1.7x the timeout on average. 300 ms puts a new leader at ~0.6 s and
// offers flowing again under 1 s (BENCHMARKS.md, failover); 500 ms gave
// ~1.0 s and ~1.24 s. Leaders send heartbeats every timeout/10 (30 ms),
// so a spurious election needs a 300 ms stall.
const (
	DefaultHeartbeatTimeout   = 300 * time.Millisecond
	DefaultElectionTimeout    = 300 * time.Millisecond
	DefaultLeaderLeaseTimeout = 250 * time.Millisecond
	DefaultCommitTimeout      = 10 * time.Millisecond
	DefaultApplyTimeout       = 10 * time.Second
)

// Config configures a node. The zero value of every optional field picks
// a default; Validate reports what is missing or malformed.
type Config struct {
	// Name is the raft server ID; it is also this node's key in Peers.
	Name string
	// DataDir holds raft.db (log and stable store) and the snapshots.
	DataDir string
	// BindAddr is the transport's listen address, host:port. Port 0 picks
	// a free port (see Node.Addr); it is allowed only for a node alone
	// (no Peers, no AdvertiseAddr), since peers must know each other's
	// addresses beforehand.
	BindAddr string
	// AdvertiseAddr is the address peers reach this node at. Default:
	// Peers[Name] if set, else BindAddr.
	AdvertiseAddr string
	// Peers maps every member's name to its address, this node included.
	// It is read only when bootstrapping; afterwards the membership is
	// whatever the raft log says. Empty: a cluster of this node alone.
	Peers map[string]string
	// Bootstrap bootstraps the cluster from Peers if DataDir holds no raft
	// state yet. Every member of a new cluster may set it: they bootstrap
	// the same configuration, which raft accepts. A node with existing
	// state never bootstraps again.
	Bootstrap bool
	// Logger receives raft's logs, one level quieter than raft rates them:
	// raft's info and debug lines at slog.LevelDebug (trace at
	// slog.LevelDebug-4), its warnings (routine: an election starting, a
	// peer unreachable) at slog.LevelInfo and its errors at
	// slog.LevelError. Nil discards them.
	Logger *slog.Logger

	// Raft timeouts; zero picks the Default* constants above.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration // when defaulted, capped at HeartbeatTimeout
	CommitTimeout      time.Duration
	// ApplyTimeout bounds each Apply and Barrier whose context has no
	// earlier deadline (default DefaultApplyTimeout).
	ApplyTimeout time.Duration
}

// Validate checks the configuration without touching the disk or the
// network.
func (c *Config) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("raftnode: name is required"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("raftnode: data dir is required"))
	}
	host, port, err := net.SplitHostPort(c.BindAddr)
	if err != nil {
		errs = append(errs, fmt.Errorf("raftnode: bind address %q: %w", c.BindAddr, err))
	}
	for name, addr := range c.Peers {
		if name == "" {
			errs = append(errs, errors.New("raftnode: peer with an empty name"))
		}
		if _, p, err := net.SplitHostPort(addr); err != nil || p == "0" {
			errs = append(errs, fmt.Errorf("raftnode: peer %q: address %q is not host:port with a fixed port", name, addr))
		}
	}
	if len(c.Peers) > 0 {
		if _, ok := c.Peers[c.Name]; !ok {
			errs = append(errs, fmt.Errorf("raftnode: peers do not include this node, %q", c.Name))
		}
	}
	if c.AdvertiseAddr != "" {
		if _, p, err := net.SplitHostPort(c.AdvertiseAddr); err != nil || p == "0" {
			errs = append(errs, fmt.Errorf("raftnode: advertise address %q is not host:port with a fixed port", c.AdvertiseAddr))
		}
	}
	if err == nil && port == "0" && (len(c.Peers) > 0 || c.AdvertiseAddr != "") {
		errs = append(errs, fmt.Errorf("raftnode: bind address %q has no fixed port; that is only for a node alone with no Peers and no AdvertiseAddr", c.BindAddr))
	}
	if ip := net.ParseIP(host); err == nil && c.AdvertiseAddr == "" && c.Peers[c.Name] == "" && (host == "" || (ip != nil && ip.IsUnspecified())) {
		errs = append(errs, fmt.Errorf("raftnode: bind address %q cannot be advertised; set AdvertiseAddr or Peers[%q]", c.BindAddr, c.Name))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"heartbeat timeout", c.HeartbeatTimeout}, {"election timeout", c.ElectionTimeout},
		{"leader lease timeout", c.LeaderLeaseTimeout}, {"commit timeout", c.CommitTimeout},
		{"apply timeout", c.ApplyTimeout},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("raftnode: negative %s %s", d.name, d.v))
		}
	}
	return errors.Join(errs...)
}

// withDefaults returns c with every zero optional field filled in.
func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) bool {
		if *d == 0 {
			*d = v
			return true
		}
		return false
	}
	def(&c.HeartbeatTimeout, DefaultHeartbeatTimeout)
	def(&c.ElectionTimeout, DefaultElectionTimeout)
	if def(&c.LeaderLeaseTimeout, max(DefaultLeaderLeaseTimeout, c.HeartbeatTimeout/2)) && c.LeaderLeaseTimeout > c.HeartbeatTimeout {
		// A defaulted lease grows with the heartbeat timeout (half of it,
		// as raft's own defaults), so that a leader on a loaded machine,
		// given longer timeouts, does not still step down after a 250 ms
		// stall. raft requires lease <= heartbeat; only a defaulted lease
		// is adjusted, an explicit one is reported by raft.ValidateConfig.
		c.LeaderLeaseTimeout = c.HeartbeatTimeout
	}
	def(&c.CommitTimeout, DefaultCommitTimeout)
	def(&c.ApplyTimeout, DefaultApplyTimeout)
	if c.AdvertiseAddr == "" {
		c.AdvertiseAddr = c.Peers[c.Name]
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c
}
