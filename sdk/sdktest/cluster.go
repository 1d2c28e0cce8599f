// Package sdktest starts a real Agora cluster inside a test: masters with
// raft on disk and embedded NATS, and agents that run real processes or
// simulated tasks. Framework authors use it in a plain `go test`; Agora's
// own tests, `agora dev` and `agora bench` use the same code.
//
//	c := sdktest.Start(t, sdktest.Masters(3), sdktest.Agents(2, "cpus:4;mem:4096;disk:10000"))
//	d, _ := sdk.NewDriver(sdk.Config{NATSURLs: c.NATSURLs(), Framework: ...}, myScheduler)
package sdktest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/agora-cluster/agora/agent"
	"github.com/agora-cluster/agora/agent/launcher"
	"github.com/agora-cluster/agora/master"
	"github.com/agora-cluster/agora/master/natsembed"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Config describes a cluster. Build it with options or fill it directly.
type Config struct {
	// Masters is the number of masters (0 means 1); each runs raft and,
	// without ExternalNATS, an embedded NATS server routed to the others.
	Masters int
	// AgentResources has one entry per agent.
	AgentResources []wire.Resources
	// Simulated makes agents use the simulated executor (no processes).
	Simulated bool
	// ExternalNATS is a NATS URL to use instead of the masters' embedded
	// servers.
	ExternalNATS string
	// Dir holds the masters' data and agents' work dirs; "" makes a
	// temporary one that Close removes.
	Dir string
	// NATSBasePort, when set, gives master i the NATS port base+i instead
	// of a free one (agora dev uses 4222).
	NATSBasePort int
	// HTTPBasePort, when set, gives master i the HTTP port base+i instead
	// of a free one (agora dev uses 5050).
	HTTPBasePort int
	// Fast shortens raft and heartbeat timeouts (as tests want).
	Fast bool
	// Logger receives every master's and agent's logs (nil: discarded).
	Logger *slog.Logger
	// Auth, if set, secures the embedded NATS with these identities (its
	// routes too, with the master identity): the masters get it, and agent
	// i logs in as the i-th agent identity, with that identity's ID.
	Auth *natsembed.Auth
	// OperatorToken, if set, is required by the masters' HTTP calls that
	// change state.
	OperatorToken string
	// MasterConfig, if set, adjusts each master's config before it starts.
	MasterConfig func(*master.Config)
	// AgentConfig, if set, adjusts each agent's config before it starts.
	AgentConfig func(i int, c *agent.Config)
}

// Option adjusts a Config.
type Option func(*Config)

// Masters sets the number of masters (1 or 3, typically).
func Masters(n int) Option { return func(c *Config) { c.Masters = n } }

// Agents adds n agents with the given resources ("cpus:2;mem:2048;disk:1000").
// An unparsable string panics: it is a programming error in a test.
func Agents(n int, resources string) Option {
	r, err := wire.ParseResources(resources)
	if err != nil {
		panic(fmt.Sprintf("sdktest.Agents: %v", err))
	}
	if r.DiskMB == 0 {
		r.DiskMB = 1024
	}
	return func(c *Config) {
		for i := 0; i < n; i++ {
			c.AgentResources = append(c.AgentResources, r)
		}
	}
}

// Simulated makes the agents simulate tasks instead of running processes.
func Simulated() Option { return func(c *Config) { c.Simulated = true } }

// ExternalNATS points the cluster at a NATS server it does not own.
func ExternalNATS(url string) Option { return func(c *Config) { c.ExternalNATS = url } }

// WithLogger sets the cluster's logger.
func WithLogger(l *slog.Logger) Option { return func(c *Config) { c.Logger = l } }

// WithAuth secures the cluster's NATS with identities; see [Config.Auth].
func WithAuth(a *natsembed.Auth) Option { return func(c *Config) { c.Auth = a } }

// WithOperatorToken makes the masters' state-changing HTTP calls require
// the token.
func WithOperatorToken(token string) Option { return func(c *Config) { c.OperatorToken = token } }

// WithMasterConfig adjusts every master's config.
func WithMasterConfig(f func(*master.Config)) Option {
	return func(c *Config) { c.MasterConfig = f }
}

// WithURLUser returns NATS URLs carrying a user and password (escaped as
// URLs need).
func WithURLUser(urls []string, user, password string) []string {
	login := url.UserPassword(user, password).String()
	out := make([]string, len(urls))
	for i, u := range urls {
		out[i] = strings.Replace(u, "nats://", "nats://"+login+"@", 1)
	}
	return out
}

// WithAgentConfig adjusts every agent's config.
func WithAgentConfig(f func(i int, c *agent.Config)) Option {
	return func(c *Config) { c.AgentConfig = f }
}

// Cluster is a running in-process cluster.
type Cluster struct {
	cfg     Config
	dir     string
	tempDir bool
	log     *slog.Logger

	mu       sync.Mutex
	masters  []*master.Master // nil where stopped
	mcfgs    []master.Config
	agents   []*agent.Agent // nil where stopped
	acfgs    []agent.Config
	natsURLs []string
}

// New starts a cluster; Close stops it.
func New(cfg Config) (*Cluster, error) {
	if cfg.Masters <= 0 {
		cfg.Masters = 1
	}
	c := &Cluster{cfg: cfg, dir: cfg.Dir, log: cfg.Logger}
	if c.log == nil {
		c.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.dir == "" {
		d, err := os.MkdirTemp("", "agora-cluster-")
		if err != nil {
			return nil, err
		}
		c.dir, c.tempDir = d, true
	}
	if err := c.startMasters(); err != nil {
		c.Close()
		return nil, err
	}
	for i, r := range cfg.AgentResources {
		if err := c.startAgent(i, r); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// freePorts returns n distinct free loopback addresses for the masters'
// raft transports, which must be known before they listen. They are taken
// below the kernel's ephemeral port range where it can be read: a port
// from that range, released here and bound a moment later, can meanwhile
// become the local end of some outgoing connection ("address already in
// use"). The listeners stay open until all are chosen, so that none is
// handed out twice.
func freePorts(n int) ([]string, error) {
	addrs := make([]string, 0, n)
	lo, hi := quietPortRange()
	for tries := 0; len(addrs) < n; tries++ {
		addr := "127.0.0.1:0"
		if hi > lo && tries < 100*n {
			addr = fmt.Sprintf("127.0.0.1:%d", lo+rand.IntN(hi-lo))
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			if addr != "127.0.0.1:0" {
				continue // taken: try another
			}
			return nil, err
		}
		defer l.Close()
		addrs = append(addrs, l.Addr().String())
	}
	return addrs, nil
}

// quietPortRange is [lo, hi): ports below the ephemeral range (Linux's
// ip_local_port_range), from 10000 on; empty when that range is unknown.
func quietPortRange() (lo, hi int) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0
	}
	var first, last int
	if _, err := fmt.Sscan(string(b), &first, &last); err != nil || first <= 11000 {
		return 0, 0
	}
	return 10000, first
}

// peersFile keeps the masters' raft addresses in the cluster's dir: raft
// remembers its peers' addresses, so a cluster restarted on the same dir
// must listen where it did before.
const peersFile = "raft-peers.json"

// masterPeers returns the masters' names and raft addresses: those of an
// earlier start on the same dir, or free ports, recorded for the next.
func (c *Cluster) masterPeers(n int) ([]string, map[string]string, error) {
	names := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("m%d", i+1)
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, nil, err
	}
	file := filepath.Join(c.dir, peersFile)
	if b, err := os.ReadFile(file); err == nil {
		peers := map[string]string{}
		if err := json.Unmarshal(b, &peers); err != nil {
			return nil, nil, fmt.Errorf("sdktest: %s: %w", file, err)
		}
		for _, name := range names {
			if peers[name] == "" || len(peers) != n {
				return nil, nil, fmt.Errorf("sdktest: %s lists the masters %v; this cluster has %d: start it with as many masters as before, or on a fresh dir", file, peers, n)
			}
		}
		return names, peers, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, err
	}
	addrs, err := freePorts(n)
	if err != nil {
		return nil, nil, err
	}
	peers := map[string]string{}
	for i, name := range names {
		peers[name] = addrs[i]
	}
	b, _ := json.Marshal(peers)
	if err := os.WriteFile(file, b, 0o644); err != nil {
		return nil, nil, err
	}
	return names, peers, nil
}

func (c *Cluster) startMasters() error {
	n := c.cfg.Masters
	names, peers, err := c.masterPeers(n)
	if err != nil {
		return err
	}
	var routes []string
	for i := range n {
		mc := master.DefaultConfig()
		mc.Name = names[i]
		mc.DataDir = filepath.Join(c.dir, names[i])
		mc.RaftAddr = peers[names[i]]
		mc.Peers = peers
		mc.HTTPAddr = "127.0.0.1:0"
		if c.cfg.HTTPBasePort > 0 {
			mc.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", c.cfg.HTTPBasePort+i)
		}
		mc.Logger = c.log
		if c.cfg.ExternalNATS != "" {
			mc.NATSURLs = []string{c.cfg.ExternalNATS}
		} else {
			mc.EmbedNATS = natsembed.Config{Listen: "127.0.0.1:-1", Routes: routes}
			if c.cfg.NATSBasePort > 0 {
				mc.EmbedNATS.Listen = fmt.Sprintf("127.0.0.1:%d", c.cfg.NATSBasePort+i)
			}
			if n > 1 {
				mc.EmbedNATS.Cluster = "127.0.0.1:-1"
			}
		}
		mc.Auth, mc.OperatorToken = c.cfg.Auth, c.cfg.OperatorToken
		if c.cfg.Fast {
			fastMaster(&mc)
		}
		if c.cfg.MasterConfig != nil {
			c.cfg.MasterConfig(&mc)
		}
		m, err := master.New(mc)
		if err != nil {
			return fmt.Errorf("sdktest: start %s: %w", names[i], err)
		}
		// Later members route to the first; NATS gossips the rest.
		if i == 0 && m.NATSRouteURL() != "" {
			routes = []string{m.NATSRouteURL()}
		}
		if c.cfg.ExternalNATS == "" {
			// Restarts must listen where clients already point.
			mc.EmbedNATS.Listen = hostPort(m.NATSURL())
			if r := m.NATSRouteURL(); r != "" {
				mc.EmbedNATS.Cluster = hostPort(r)
			}
			c.natsURLs = append(c.natsURLs, m.NATSURL())
		}
		mc.HTTPAddr = m.HTTPAddr()
		c.masters = append(c.masters, m)
		c.mcfgs = append(c.mcfgs, mc)
	}
	if c.cfg.ExternalNATS != "" {
		c.natsURLs = []string{c.cfg.ExternalNATS}
	}
	return nil
}

func hostPort(url string) string {
	for i := len(url) - 1; i >= 0; i-- {
		if url[i] == '/' {
			return url[i+1:]
		}
	}
	return url
}

// fastMaster shortens timeouts for tests.
func fastMaster(mc *master.Config) {
	// Short enough for quick failovers, long enough not to flap under
	// -race on a loaded 2-core machine.
	mc.RaftHeartbeatTimeout = 250 * time.Millisecond
	mc.RaftElectionTimeout = 250 * time.Millisecond
	mc.RaftLeaderLease = 100 * time.Millisecond
	mc.AgentHeartbeatInterval = 100 * time.Millisecond
	mc.AgentTimeout = 2 * time.Second
	mc.FrameworkHeartbeatInterval = 200 * time.Millisecond
	mc.AnnounceInterval = 200 * time.Millisecond
	mc.AllocationInterval = 200 * time.Millisecond
}

func (c *Cluster) startAgent(i int, r wire.Resources) error {
	ac := agent.DefaultConfig()
	ac.WorkDir = filepath.Join(c.dir, fmt.Sprintf("agent%d", i+1))
	ac.NATSURLs = c.natsURLs
	ac.Hostname = fmt.Sprintf("agent%d", i+1)
	ac.Resources = r
	ac.Logger = c.log
	if c.cfg.Fast {
		ac.UpdateBackoffMin = 200 * time.Millisecond
		ac.UpdateBackoffMax = 2 * time.Second
		ac.KillGrace = time.Second
	}
	if c.cfg.Simulated {
		ac.Executor = launcher.NewSimExecutor()
	}
	if c.cfg.Auth != nil {
		u, ok := agentIdentity(c.cfg.Auth, i)
		if !ok {
			return fmt.Errorf("sdktest: agent %d has no agent identity in Auth", i+1)
		}
		ac.ID = wire.AgentID(u.ID)
		ac.NATSURLs = WithURLUser(c.natsURLs, u.Name, u.Password)
	}
	if c.cfg.AgentConfig != nil {
		c.cfg.AgentConfig(i, &ac)
	}
	a, err := agent.Start(ac)
	if err != nil {
		return fmt.Errorf("sdktest: start agent %d: %w", i+1, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.agents) <= i {
		c.agents = append(c.agents, nil)
		c.acfgs = append(c.acfgs, agent.Config{})
	}
	c.agents[i], c.acfgs[i] = a, ac
	return nil
}

// agentIdentity returns the i-th agent identity of a.
func agentIdentity(a *natsembed.Auth, i int) (natsembed.User, bool) {
	for _, u := range a.Users {
		if u.Kind != natsembed.KindAgent || u.ID == "" {
			continue
		}
		if i == 0 {
			return u, true
		}
		i--
	}
	return natsembed.User{}, false
}

// NATSURLs are the URLs clients connect to.
func (c *Cluster) NATSURLs() []string { return append([]string(nil), c.natsURLs...) }

// Dir is the cluster's data directory.
func (c *Cluster) Dir() string { return c.dir }

// Masters returns the running masters (stopped ones are nil).
func (c *Cluster) Masters() []*master.Master {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*master.Master(nil), c.masters...)
}

// Agents returns the agents (stopped ones are nil).
func (c *Cluster) Agents() []*agent.Agent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*agent.Agent(nil), c.agents...)
}

// Leader returns the master that currently acts as leader, or nil.
func (c *Cluster) Leader() *master.Master {
	for _, m := range c.Masters() {
		if m != nil && m.IsLeader() {
			return m
		}
	}
	return nil
}

// ErrTimeout is returned by the Wait helpers.
var ErrTimeout = errors.New("sdktest: timed out")

// WaitFor polls cond until it holds or the timeout passes.
func WaitFor(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return nil
		}
		if time.Now().After(deadline) {
			return ErrTimeout
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// WaitLeader waits for a leader and returns it.
func (c *Cluster) WaitLeader(timeout time.Duration) (*master.Master, error) {
	var l *master.Master
	err := WaitFor(timeout, func() bool { l = c.Leader(); return l != nil })
	return l, err
}

// WaitAgentsRegistered waits until every running agent is registered with
// the current leader.
func (c *Cluster) WaitAgentsRegistered(timeout time.Duration) error {
	return WaitFor(timeout, func() bool {
		l := c.Leader()
		if l == nil {
			return false
		}
		for _, a := range c.Agents() {
			if a == nil {
				continue
			}
			ok, li := a.Registered()
			if !ok || li.Term != l.Term() {
				return false
			}
		}
		return true
	})
}

// StopMaster shuts master i down hard (no leadership transfer).
func (c *Cluster) StopMaster(i int) {
	c.mu.Lock()
	m := c.masters[i]
	c.masters[i] = nil
	c.mu.Unlock()
	if m != nil {
		m.Shutdown()
	}
}

// KillLeader shuts the current leader down hard and returns its index, or
// -1 if there was none.
func (c *Cluster) KillLeader() int {
	for i, m := range c.Masters() {
		if m != nil && m.IsLeader() {
			c.StopMaster(i)
			return i
		}
	}
	return -1
}

// RestartMaster starts master i again from its data dir.
func (c *Cluster) RestartMaster(i int) error {
	c.mu.Lock()
	mc := c.mcfgs[i]
	running := c.masters[i] != nil
	c.mu.Unlock()
	if running {
		return fmt.Errorf("sdktest: master %d is running", i)
	}
	m, err := master.New(mc)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.masters[i] = m
	c.mu.Unlock()
	return nil
}

// StopAgent stops agent i; its tasks keep running unless killTasks.
func (c *Cluster) StopAgent(i int, killTasks bool) {
	c.mu.Lock()
	a := c.agents[i]
	c.agents[i] = nil
	c.mu.Unlock()
	if a != nil {
		a.Stop(killTasks)
	}
}

// RestartAgent starts agent i again with the same work dir (and so the
// same ID).
func (c *Cluster) RestartAgent(i int) error {
	c.mu.Lock()
	ac := c.acfgs[i]
	running := c.agents[i] != nil
	c.mu.Unlock()
	if running {
		return fmt.Errorf("sdktest: agent %d is running", i)
	}
	a, err := agent.Start(ac)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.agents[i] = a
	c.mu.Unlock()
	return nil
}

// Close stops everything; with a temporary dir it removes it.
func (c *Cluster) Close() {
	for i := range c.Agents() {
		c.StopAgent(i, true)
	}
	var wg sync.WaitGroup
	for i := range c.Masters() {
		wg.Add(1)
		go func() { defer wg.Done(); c.StopMaster(i) }()
	}
	wg.Wait()
	if c.tempDir {
		_ = os.RemoveAll(c.dir)
	}
}

// Context returns a context that ends after d.
func Context(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
