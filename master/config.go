package master

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/agora-cluster/agora/master/natsembed"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Config configures one master. Start from [DefaultConfig].
type Config struct {
	// Name is this master's raft server ID and NATS server name.
	Name string
	// DataDir holds the raft log, stable store and snapshots.
	DataDir string
	// RaftAddr is the raft transport address, "host:port".
	RaftAddr string
	// Peers maps every member's name (this one included) to its raft address.
	Peers map[string]string
	// Bootstrap makes a first start with an empty DataDir bootstrap the
	// cluster from Peers. It is ignored when state exists.
	Bootstrap bool

	// NATSURLs, when set, points at an external NATS; otherwise EmbedNATS
	// is started.
	NATSURLs  []string
	EmbedNATS natsembed.Config
	// Prefix namespaces every subject (default "agora").
	Prefix string

	// HTTPAddr is the operator API address ("" disables it).
	HTTPAddr string
	// TLSCert and TLSKey, if set, serve the HTTP API and the embedded NATS
	// over TLS; TLSCA is the CA the master's own NATS client trusts.
	TLSCert, TLSKey, TLSCA string
	// OperatorToken, if set, is required (Authorization: Bearer) by every
	// HTTP call that changes state.
	OperatorToken string
	// EnableDebug serves the Go runtime's profiles (net/http/pprof) under
	// /debug/pprof/ on the HTTP API, behind the operator token.
	EnableDebug bool
	// Auth, if set, secures the embedded NATS: every client logs in as one
	// of its identities, confined to its own subjects, and a framework
	// bound to a principal may subscribe only with that principal. The
	// embedded NATS's routes then require the master identity too, unless
	// EmbedNATS.ClusterUser names other route credentials.
	Auth *natsembed.Auth

	// AgentHeartbeatInterval is how often agents heartbeat.
	AgentHeartbeatInterval time.Duration
	// AgentTimeout: an agent silent this long is marked unreachable, and
	// after an election, registered agents that have not re-registered
	// within it are too.
	AgentTimeout time.Duration
	// MaxAgentHeartbeats bounds the heartbeats per second the leader asks
	// of all agents together (0: no bound). With more agents than
	// AgentHeartbeatInterval allows, each is told to heartbeat less often,
	// and the silence after which it is unreachable grows in proportion.
	MaxAgentHeartbeats float64
	// AgentGoneTimeout: an agent unreachable this long is marked GONE and
	// its tasks TASK_GONE (0: never).
	AgentGoneTimeout time.Duration
	// FrameworkReregisterTimeout is how long, after an election, a
	// framework that has not re-subscribed keeps its tasks at least
	// (its own failover timeout applies if longer).
	FrameworkReregisterTimeout time.Duration
	// FrameworkHeartbeatInterval is how often the leader heartbeats frameworks.
	FrameworkHeartbeatInterval time.Duration
	// AnnounceInterval is how often the leader announces itself; longer in
	// proportion once agents heartbeat less often than
	// AgentHeartbeatInterval (a large cluster: see MaxAgentHeartbeats).
	AnnounceInterval time.Duration
	// AllocationInterval is the period of the full allocation pass; events
	// trigger allocations in between.
	AllocationInterval time.Duration
	// OfferTimeout rescinds offers held longer (0 = never).
	OfferTimeout time.Duration
	// DefaultRefuse is the filter of a DECLINE without refuse_seconds.
	DefaultRefuse time.Duration
	// MaxTasksPerAccept bounds the tasks of one ACCEPT.
	MaxTasksPerAccept int
	// CallRate and CallBurst bound each framework's calls per second
	// (0 disables the limit); acknowledgements are not limited.
	CallRate  float64
	CallBurst int
	// MinAllocatable: free resources smaller than this are not offered.
	MinAllocatable wire.Resources

	// Raft timeouts; zero means raftnode's LAN defaults. Tests shorten them.
	RaftHeartbeatTimeout time.Duration
	RaftElectionTimeout  time.Duration
	RaftLeaderLease      time.Duration

	Logger *slog.Logger
	// Now is the clock of the offer timeout, of framework silence and
	// failover timeouts, and of the allocator's filters; nil means
	// time.Now. Tests inject a fake clock.
	Now func() time.Time
}

// DefaultConfig returns a configuration with production defaults; the
// caller fills in Name, DataDir, RaftAddr and Peers.
func DefaultConfig() Config {
	return Config{
		Bootstrap:                  true,
		Prefix:                     wire.DefaultPrefix,
		AgentHeartbeatInterval:     time.Second,
		AgentTimeout:               5 * time.Second,
		MaxAgentHeartbeats:         2000,
		AgentGoneTimeout:           10 * time.Minute,
		FrameworkHeartbeatInterval: 2 * time.Second,
		FrameworkReregisterTimeout: time.Minute,
		AnnounceInterval:           time.Second,
		AllocationInterval:         time.Second,
		OfferTimeout:               30 * time.Second,
		DefaultRefuse:              5 * time.Second,
		MinAllocatable:             wire.Resources{CPUs: 0.01, MemMB: 32},
		MaxTasksPerAccept:          10000,
		CallRate:                   2000,
		CallBurst:                  4000,
	}
}

// Validate checks the configuration and names what is wrong.
func (c *Config) Validate() error {
	var errs []error
	if err := wire.ValidID("name", c.Name); err != nil {
		errs = append(errs, err)
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data dir is required"))
	}
	if c.RaftAddr == "" {
		errs = append(errs, errors.New("raft address is required"))
	}
	if len(c.Peers) > 0 {
		if _, ok := c.Peers[c.Name]; !ok {
			errs = append(errs, fmt.Errorf("peers do not include this master %q", c.Name))
		}
	}
	for name, d := range map[string]time.Duration{
		"agent heartbeat interval":     c.AgentHeartbeatInterval,
		"framework heartbeat interval": c.FrameworkHeartbeatInterval,
		"announce interval":            c.AnnounceInterval,
		"agent timeout":                c.AgentTimeout,
		"framework reregister timeout": c.FrameworkReregisterTimeout,
		"allocation interval":          c.AllocationInterval,
	} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", name))
		}
	}
	if c.MaxAgentHeartbeats < 0 {
		errs = append(errs, errors.New("max agent heartbeats must not be negative"))
	}
	if c.OfferTimeout < 0 || c.DefaultRefuse < 0 {
		errs = append(errs, errors.New("offer timeout and default refuse must not be negative"))
	}
	return errors.Join(errs...)
}

// ParsePeers parses "m1=127.0.0.1:7001,m2=127.0.0.1:7002".
func ParsePeers(s string) (map[string]string, error) {
	peers := map[string]string{}
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		name, addr, ok := strings.Cut(p, "=")
		if !ok || name == "" || addr == "" {
			return nil, fmt.Errorf("peer %q: want name=host:port", p)
		}
		if _, dup := peers[name]; dup {
			return nil, fmt.Errorf("peer %q given twice", name)
		}
		peers[name] = addr
	}
	return peers, nil
}
