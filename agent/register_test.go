package agent_test

import (
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/agent"
	"github.com/agora-cluster/agora/agent/launcher"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/sdktest/logrec"
	"github.com/agora-cluster/agora/sdk/wire"
)

// handLeader plays the leader over NATS by hand: it answers registrations
// (counting them per term), asks agents it has not registered in its term
// to register when they heartbeat, and announces itself when told.
type handLeader struct {
	t      *testing.T
	nc     *nats.Conn
	subj   wire.Subjects
	spread time.Duration

	mu         sync.Mutex
	term       uint64
	answer     answerMode
	attempts   map[uint64]int          // registration requests per term, answered or not
	registered map[uint64]int          // registrations per term
	known      map[wire.AgentID]uint64 // the term each agent last registered in
	seq        uint64
}

// answerMode is how the hand leader answers registrations.
type answerMode int

const (
	admit     answerMode = iota // registers the agent
	notLeader                   // NOT_LEADER: it stepped down
	// staleNotLeader answers NOT_LEADER once, as the leader of the term
	// before, and admits from then on: a deposed leader's answer came
	// first.
	staleNotLeader
)

func startHandLeader(t *testing.T, url string, spread time.Duration) *handLeader {
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	l := &handLeader{t: t, nc: nc, subj: wire.NewSubjects(wire.DefaultPrefix), spread: spread, term: 1,
		attempts: map[uint64]int{}, registered: map[uint64]int{}, known: map[wire.AgentID]uint64{}}
	if _, err := nc.Subscribe(l.subj.FromAgents(), l.onAgent); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return l
}

func (l *handLeader) info() wire.LeaderInfo {
	return wire.LeaderInfo{Name: "hand", Term: l.term, AgentHeartbeat: wire.Duration(100 * time.Millisecond)}
}

func (l *handLeader) onAgent(msg *nats.Msg) {
	env, err := wire.Decode(msg.Data)
	if err != nil {
		return
	}
	id := wire.AgentID(wire.LastToken(msg.Subject))
	l.mu.Lock()
	defer l.mu.Unlock()
	switch env.Type {
	case wire.TypeRegisterAgent:
		l.attempts[l.term]++
		switch l.answer {
		case notLeader, staleNotLeader:
			term := l.term
			if l.answer == staleNotLeader {
				term--
				l.answer = admit
			}
			_ = msg.Respond(wire.MustEncode(wire.TypeError, "hand", term, wire.Errorf(wire.CodeNotLeader, "hand stepped down")))
			return
		}
		l.registered[l.term]++
		l.known[id] = l.term
		data := wire.MustEncode(wire.TypeAgentRegistered, "hand", l.term, wire.AgentRegistered{AgentID: id,
			HeartbeatInterval: wire.Duration(100 * time.Millisecond), Leader: l.info(), RegisterSpread: wire.Duration(l.spread)})
		_ = msg.Respond(data)
	case wire.TypeAgentHeartbeat:
		if l.known[id] != l.term {
			l.seq++
			_ = l.nc.Publish(l.subj.Agent(id), wire.MustEncode(wire.TypeReregister, "hand", l.term, wire.Reregister{LeaderInfo: l.info(), Seq: l.seq}))
		}
	}
}

// newTerm makes the hand leader the leader of the next term and
// announces it.
func (l *handLeader) newTerm() uint64 {
	l.mu.Lock()
	l.term++
	term, li := l.term, l.info()
	l.mu.Unlock()
	if err := l.nc.Publish(l.subj.Leader(), wire.MustEncode(wire.TypeLeader, "hand", term, li)); err != nil {
		l.t.Fatal(err)
	}
	return term
}

func (l *handLeader) setAnswer(m answerMode) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.answer = m
}

func (l *handLeader) requests(term uint64) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.attempts[term]
}

func (l *handLeader) registrations(term uint64) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.registered[term]
}

// TestOneRegistrationPerTerm: told of a new leader, an agent schedules its
// registration somewhere in the spread; if the leader asks first (the
// agent's heartbeat reached it before the registration), the agent
// registers then, and the scheduled registration is not sent as well.
func TestOneRegistrationPerTerm(t *testing.T) {
	ns := sdktest.StartNATS(t)
	// A spread of 5 s: the leader's ask (at the agent's next heartbeat,
	// within 100 ms) comes before the scheduled registration but in a
	// negligible share of runs.
	leader := startHandLeader(t, ns.ClientURL(), 5*time.Second)
	logs := &logrec.Recorder{}
	startAgent(t, ns.ClientURL(), logs)
	sdktest.Eventually(t, 5*time.Second, func() bool { return leader.registrations(1) == 1 }, "the agent registered in term 1")

	term := leader.newTerm()
	sdktest.Eventually(t, 5*time.Second, func() bool { return leader.registrations(term) >= 1 }, "the agent registered in the new term")
	sdktest.Eventually(t, 10*time.Second, func() bool {
		return logs.Count("spread registration not needed") > 0 || leader.registrations(term) > 1
	}, "the scheduled registration was skipped or sent (the spread is 5 s)")
	if n := leader.registrations(term); n != 1 {
		t.Fatalf("the agent registered %d times in term %d, want once", n, term)
	}
}

func startAgent(t *testing.T, url string, logs *logrec.Recorder) *agent.Agent {
	t.Helper()
	return startAgentWith(t, url, logs, func(*agent.Config) {})
}

func startAgentWith(t *testing.T, url string, logs *logrec.Recorder, set func(*agent.Config)) *agent.Agent {
	t.Helper()
	cfg := agent.DefaultConfig()
	cfg.WorkDir, cfg.NATSURLs, cfg.Logger = t.TempDir(), []string{url}, slog.New(logs)
	set(&cfg)
	cfg.Resources = wire.Resources{CPUs: 1, MemMB: 256, DiskMB: 1024}
	cfg.Executor = launcher.NewSimExecutor()
	a, err := agent.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(false) })
	return a
}

// TestNoLeaderNoRetryBurst: while no master answers (an election is under
// way), or the one that answers has stepped down, an agent waits to ask
// again (NoLeaderRetry), not with a quick backoff that, across a
// cluster's agents, makes a burst of requests on the NATS servers just
// when the masters are electing a leader; the new leader's announcement
// makes it register.
func TestNoLeaderNoRetryBurst(t *testing.T) {
	for _, c := range []struct {
		name   string
		leader bool // a deposed leader answers NOT_LEADER; else none answers
	}{{"no master answers", false}, {"a deposed leader answers", true}} {
		t.Run(c.name, func(t *testing.T) {
			ns := sdktest.StartNATS(t)
			var leader *handLeader
			if c.leader {
				leader = startHandLeader(t, ns.ClientURL(), 0)
				leader.setAnswer(notLeader)
			}
			logs := &logrec.Recorder{}
			startAgentWith(t, ns.ClientURL(), logs, func(c *agent.Config) { c.NoLeaderRetry = time.Hour })
			sdktest.Eventually(t, 5*time.Second, func() bool { return logs.Count("registration failed") > 0 }, "a refused registration")
			// The quick backoff (50 ms, doubling) asks 4 more times in 1 s.
			time.Sleep(time.Second) // an observation window, not a wait for an event
			if n := logs.Count("registration failed"); n != 1 {
				t.Fatalf("%d registrations refused for want of a leader in 1 s; want 1 (the next waits an hour)", n)
			}
			if leader == nil {
				leader = startHandLeader(t, ns.ClientURL(), 0)
			}
			leader.setAnswer(admit)
			term := leader.newTerm()
			sdktest.Eventually(t, 5*time.Second, func() bool { return leader.registrations(term) == 1 }, "the agent registered with the announced leader")
		})
	}
}

// TestStaleNotLeaderAnswer: an agent told of a new leader that gets
// NOT_LEADER from the leader before (a deposed leader's answer came
// first) asks again soon, rather than wait for an announcement it had
// already.
func TestStaleNotLeaderAnswer(t *testing.T) {
	ns := sdktest.StartNATS(t)
	leader := startHandLeader(t, ns.ClientURL(), 0)
	startAgentWith(t, ns.ClientURL(), &logrec.Recorder{}, func(c *agent.Config) { c.NoLeaderRetry = time.Hour })
	sdktest.Eventually(t, 5*time.Second, func() bool { return leader.registrations(1) == 1 }, "the agent registered in term 1")

	leader.setAnswer(staleNotLeader)
	term := leader.newTerm()
	sdktest.Eventually(t, 10*time.Second, func() bool { return leader.registrations(term) == 1 },
		"the agent registered in term 2 after a NOT_LEADER of term 1 (waiting for an announcement would take an hour)")
	if n := leader.requests(term); n != 2 {
		t.Fatalf("%d registration requests in term 2, want 2 (the one answered NOT_LEADER by term 1, then the admitted one)", n)
	}
}
