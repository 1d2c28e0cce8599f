// Package master is the Agora master daemon: the replicated registry
// (raft), leader election, and — on the leader only — the allocator, the
// offer book, task and status routing, agent health and the HTTP API.
//
// Three masters form a cluster. Raft holds the registry (agents,
// frameworks, roles); everything else is the leader's soft state, rebuilt
// after a failover from agent re-registrations and framework
// re-subscriptions.
package master

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/master/natsembed"
	"github.com/agora-cluster/agora/master/raftnode"
	"github.com/agora-cluster/agora/master/registry"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Master is one member of the master cluster.
type Master struct {
	cfg  Config
	log  *slog.Logger
	subj wire.Subjects

	fsm  *registry.FSM
	raft *raftnode.Node
	ns   *natsembed.Server // nil with an external NATS
	nc   *nats.Conn

	httpSrv *http.Server
	httpLn  net.Listener

	mu      sync.Mutex
	lead    *leader         // non-nil while this master leads
	known   wire.LeaderInfo // the latest leader announcement seen
	annSub  *nats.Subscription
	memSub  *nats.Subscription
	members map[string]memberSeen
	metrics *metrics
	limiter *callLimiter

	wg           sync.WaitGroup
	shutdownCh   chan struct{}
	shutdownOnce sync.Once
}

// New starts a master: raft, NATS (embedded or external), the HTTP API and
// the leadership watcher. Call Shutdown to stop it.
func New(cfg Config) (*Master, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("master: invalid config: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("master", cfg.Name)
	m := &Master{
		cfg:        cfg,
		log:        log,
		subj:       wire.NewSubjects(cfg.Prefix),
		fsm:        registry.NewFSM(),
		shutdownCh: make(chan struct{}),
	}
	m.metrics = newMetrics(m)
	m.limiter = newCallLimiter(cfg.CallRate, cfg.CallBurst)
	if err := m.start(); err != nil {
		m.Shutdown()
		return nil, err
	}
	return m, nil
}

func (m *Master) start() error {
	var err error
	if len(m.cfg.NATSURLs) == 0 {
		ec := m.cfg.EmbedNATS
		if ec.Name == "" {
			ec.Name = m.cfg.Name
		}
		if ec.Logger == nil {
			ec.Logger = m.log
		}
		ec.MaxPayload = wire.MaxMessageBytes
		ec.Auth, ec.Prefix = m.cfg.Auth, m.cfg.Prefix
		ec.TLSCert, ec.TLSKey, ec.TLSCA = m.cfg.TLSCert, m.cfg.TLSKey, m.cfg.TLSCA
		if m.ns, err = natsembed.Start(ec); err != nil {
			return err
		}
	}
	if m.nc, err = m.connectNATS(); err != nil {
		return err
	}
	// Every master listens to leader announcements, so that standbys can
	// redirect and a deposed leader learns of its successor.
	if m.annSub, err = m.nc.Subscribe(m.subj.Leader(), m.onAnnouncement); err != nil {
		return fmt.Errorf("master: subscribe %s: %w", m.subj.Leader(), err)
	}
	if m.memSub, err = m.nc.Subscribe(m.subj.Members(), m.onMemberStatus); err != nil {
		return fmt.Errorf("master: subscribe %s: %w", m.subj.Members(), err)
	}
	m.raft, err = raftnode.New(raftnode.Config{
		Name:               m.cfg.Name,
		DataDir:            m.cfg.DataDir,
		BindAddr:           m.cfg.RaftAddr,
		Peers:              m.cfg.Peers,
		Bootstrap:          m.cfg.Bootstrap,
		Logger:             m.log,
		HeartbeatTimeout:   m.cfg.RaftHeartbeatTimeout,
		ElectionTimeout:    m.cfg.RaftElectionTimeout,
		LeaderLeaseTimeout: m.cfg.RaftLeaderLease,
	}, m.fsm)
	if err != nil {
		return fmt.Errorf("master: raft: %w", err)
	}
	if m.cfg.HTTPAddr != "" {
		if err := m.startHTTP(); err != nil {
			return err
		}
	}
	m.goFunc(m.watchLeadership)
	m.goFunc(m.reportLoop)
	return nil
}

func (m *Master) connectNATS() (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name("agora-master-" + m.cfg.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100 * time.Millisecond),
		nats.ReconnectBufSize(64 << 20),
		nats.PingInterval(time.Second), nats.MaxPingsOutstanding(3),
	}
	if m.cfg.Auth != nil {
		u := m.cfg.Auth.Master()
		opts = append(opts, nats.UserInfo(u.Name, u.Password))
	}
	if m.ns != nil {
		// The master talks to its own embedded server in-process: no
		// loopback socket, so no system calls, on the path every call,
		// status update and offer takes.
		nc, err := m.ns.ConnectInProcess(opts...)
		if err != nil {
			return nil, fmt.Errorf("master: connect to the embedded NATS server: %w", err)
		}
		return nc, nil
	}
	url := joinURLs(m.cfg.NATSURLs)
	if m.cfg.TLSCA != "" {
		opts = append(opts, nats.RootCAs(m.cfg.TLSCA))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("master: connect NATS %s: %w", url, err)
	}
	return nc, nil
}

// goFunc runs f in a goroutine counted by the master's WaitGroup.
func (m *Master) goFunc(f func()) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		f()
	}()
}

// watchLeadership starts the leader's loops when raft makes this master
// leader and stops them when it stops being leader.
func (m *Master) watchLeadership() {
	ch := m.raft.LeaderCh()
	for {
		select {
		case <-m.shutdownCh:
			m.stepDown()
			return
		case isLeader := <-ch:
			if isLeader {
				m.stepUp()
			} else {
				m.stepDown()
			}
		}
	}
}

func (m *Master) stepUp() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The FSM must hold every committed entry before the leader reads it.
	if err := m.raft.Barrier(ctx); err != nil {
		m.log.Warn("barrier after election failed; not acting as leader", "err", err)
		return
	}
	term := m.raft.Term()
	l, err := newLeader(m, term)
	if err != nil {
		m.log.Error("cannot start leader", "term", term, "err", err)
		return
	}
	m.mu.Lock()
	old := m.lead
	m.lead = l
	m.mu.Unlock()
	if old != nil {
		old.stop()
	}
	m.log.Info("elected leader", "term", term)
	l.start()
}

func (m *Master) stepDown() {
	m.mu.Lock()
	l := m.lead
	m.lead = nil
	m.mu.Unlock()
	if l != nil {
		l.stop()
		m.log.Info("no longer leader", "term", l.term)
	}
}

func (m *Master) onAnnouncement(msg *nats.Msg) {
	var li wire.LeaderInfo
	env, err := wire.DecodeAs(msg.Data, wire.TypeLeader, &li)
	if err != nil || env.Term == 0 || li.Term != env.Term {
		return
	}
	m.mu.Lock()
	if li.Term >= m.known.Term {
		m.known = li
	}
	m.mu.Unlock()
}

// currentLeader returns the leader this master knows of.
func (m *Master) currentLeader() (wire.LeaderInfo, *leader) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lead != nil {
		return m.lead.info(), m.lead
	}
	return m.known, nil
}

// now reads the master's clock (Config.Now).
func (m *Master) now() time.Time {
	if m.cfg.Now != nil {
		return m.cfg.Now()
	}
	return time.Now()
}

// Name is this master's name.
func (m *Master) Name() string { return m.cfg.Name }

// IsLeader reports whether this master currently acts as leader and
// answers on the master subjects.
func (m *Master) IsLeader() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lead != nil && m.lead.serving.Load()
}

// Term is the raft term this master's leadership started in, or 0 when
// it does not lead.
func (m *Master) Term() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lead == nil {
		return 0
	}
	return m.lead.term
}

// NATSURL is the URL of the embedded NATS server, or the configured
// external URLs.
func (m *Master) NATSURL() string {
	if m.ns != nil {
		return m.ns.ClientURL()
	}
	return joinURLs(m.cfg.NATSURLs)
}

// NATSRouteURL is the embedded server's route URL ("" if none).
func (m *Master) NATSRouteURL() string {
	if m.ns == nil {
		return ""
	}
	return m.ns.RouteURL()
}

// HTTPAddr is the address the HTTP API listens on ("" if disabled).
func (m *Master) HTTPAddr() string {
	if m.httpLn == nil {
		return ""
	}
	return m.httpLn.Addr().String()
}

// Registry exposes the replicated registry (read-only use).
func (m *Master) Registry() *registry.FSM { return m.fsm }

// Raft exposes the raft node.
func (m *Master) Raft() *raftnode.Node { return m.raft }

// Shutdown stops the master. It is safe to call more than once.
func (m *Master) Shutdown() {
	m.shutdownOnce.Do(func() {
		close(m.shutdownCh)
		if m.httpSrv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = m.httpSrv.Shutdown(ctx)
			cancel()
		}
		m.wg.Wait()
		m.stepDown()
		if m.raft != nil {
			if err := m.raft.Shutdown(); err != nil {
				m.log.Warn("raft shutdown", "err", err)
			}
		}
		if m.nc != nil {
			m.nc.Close()
		}
		if m.ns != nil {
			m.ns.Shutdown()
		}
	})
}

func joinURLs(urls []string) string {
	out := ""
	for i, u := range urls {
		if i > 0 {
			out += ","
		}
		out += u
	}
	return out
}

var errNotLeader = errors.New("not the leader")
