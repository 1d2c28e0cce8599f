package sdk_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// handLeaders plays the masters of a cluster by hand, on a bare NATS
// server: it holds every call it receives until the test answers it in a
// term of its choosing, or never.
type handLeaders struct {
	nc   *nats.Conn
	subj wire.Subjects
	mu   sync.Mutex
	held map[wire.Type][]*nats.Msg
}

func startHandLeaders(t *testing.T, url string) *handLeaders {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	h := &handLeaders{nc: nc, subj: wire.NewSubjects(""), held: map[wire.Type][]*nats.Msg{}}
	if _, err := nc.Subscribe(h.subj.Calls(), func(m *nats.Msg) {
		env, err := wire.Decode(m.Data)
		if err != nil {
			t.Errorf("undecodable call: %v", err)
			return
		}
		h.mu.Lock()
		h.held[env.Type] = append(h.held[env.Type], m)
		h.mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return h
}

// take waits for a call of type typ and removes it from the held ones.
func (h *handLeaders) take(t *testing.T, typ wire.Type) *nats.Msg {
	t.Helper()
	var m *nats.Msg
	sdktest.Eventually(t, 10*time.Second, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		if q := h.held[typ]; len(q) > 0 {
			m, h.held[typ] = q[0], q[1:]
			return true
		}
		return false
	}, "a %s call", typ)
	return m
}

func (h *handLeaders) announce(t *testing.T, term uint64) {
	t.Helper()
	h.publish(t, h.subj.Leader(), wire.TypeLeader, term, wire.LeaderInfo{Name: "m", Term: term})
}

func (h *handLeaders) answer(t *testing.T, m *nats.Msg, typ wire.Type, term uint64, body any) {
	t.Helper()
	h.publish(t, m.Reply, typ, term, body)
}

func (h *handLeaders) publish(t *testing.T, subject string, typ wire.Type, term uint64, body any) {
	t.Helper()
	data, err := wire.Encode(typ, "m", term, body)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.nc.Publish(subject, data); err != nil {
		t.Fatal(err)
	}
	if err := h.nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// subscribeByHand runs a driver against leaders played by hand, and
// subscribes it in term: the leader of term announces itself and answers
// its SUBSCRIBE. Calls never time out (CallTimeout is an hour): a call that
// ends did not time out.
func subscribeByHand(t *testing.T, name string, term uint64) (*handLeaders, *sdk.Driver) {
	t.Helper()
	ns := sdktest.StartNATS(t)
	h := startHandLeaders(t, ns.ClientURL())
	d, err := sdk.NewDriver(sdk.Config{
		NATSURLs:    []string{ns.ClientURL()},
		Framework:   wire.FrameworkInfo{Name: name},
		CallTimeout: time.Hour,
		NoReconcile: true,
	}, sdktest.NewRecorder())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-ran
	})
	sub := h.take(t, wire.TypeSubscribe)
	h.announce(t, term)
	h.answer(t, sub, wire.TypeSubscribed, term, wire.Subscribed{FrameworkID: d.FrameworkID(), Leader: wire.LeaderInfo{Name: "m", Term: term}})
	return h, d
}

// TestCallEndsWhenItsLeaderIsReplaced: a call the leader never answers
// (it died with it in hand) ends with ErrLeaderChanged once a newer
// leader has announced itself, not at the call timeout; a call the new
// leader answers shortly after its announcement succeeds.
func TestCallEndsWhenItsLeaderIsReplaced(t *testing.T) {
	h, d := subscribeByHand(t, "calls", 1)

	call := func(f func(context.Context) error) <-chan error {
		done := make(chan error, 1)
		go func() { done <- f(context.Background()) }()
		return done
	}
	result := func(done <-chan error, what string) error {
		t.Helper()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			t.Fatalf("%s did not end", what)
			return nil
		}
	}

	// The leader of term 1 dies holding a KILL; the leader of term 2
	// announces itself.
	kill := call(func(ctx context.Context) error { return d.Kill(ctx, "t1", "a1") })
	h.take(t, wire.TypeKill)
	h.announce(t, 2)
	if err := result(kill, "KILL"); !errors.Is(err, sdk.ErrLeaderChanged) {
		t.Fatalf("KILL held by a replaced leader: err = %v, want ErrLeaderChanged", err)
	}

	// A call sent in term 2 and answered in term 3 just after the leader
	// of term 3 announced itself (it received the call) succeeds.
	revive := call(func(ctx context.Context) error { return d.Revive(ctx) })
	m := h.take(t, wire.TypeRevive)
	h.announce(t, 3)
	h.answer(t, m, wire.TypeAck, 3, wire.Ack{})
	if err := result(revive, "REVIVE"); err != nil {
		t.Fatalf("REVIVE answered by the new leader: %v", err)
	}

	// An announcement of a term already known ends nothing.
	suppress := call(func(ctx context.Context) error { return d.Suppress(ctx) })
	m = h.take(t, wire.TypeSuppress)
	h.announce(t, 3)
	select {
	case err := <-suppress:
		t.Fatalf("SUPPRESS ended (%v) on a repeated announcement", err)
	case <-time.After(time.Second): // twice the grace a new leader's announcement would have left it
	}
	h.answer(t, m, wire.TypeAck, 3, wire.Ack{})
	if err := result(suppress, "SUPPRESS"); err != nil {
		t.Fatalf("SUPPRESS: %v", err)
	}
}

// TestStaleLeaderAnswerIsInDoubt: an answer from a leader older than one
// the driver has heard of (a deposed leader that took the call from its
// queue before it learnt it was deposed, and answered before the current
// leader) is no answer: the call ends with ErrLeaderChanged, not with the
// stale leader's refusal, which a framework would take as "not launched"
// while the current leader launched it.
func TestStaleLeaderAnswerIsInDoubt(t *testing.T) {
	h, d := subscribeByHand(t, "stale", 5)

	done := make(chan error, 1)
	go func() {
		_, err := d.Accept(context.Background(), []wire.OfferID{"m-5-a"}, nil, wire.Filters{})
		done <- err
	}()
	m := h.take(t, wire.TypeAccept)
	refusal := wire.Errorf(wire.CodeUnknownOffer, "offer m-5-a is not outstanding for this framework")
	h.answer(t, m, wire.TypeError, 4, refusal)
	var err2 error
	select {
	case err2 = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("ACCEPT did not end")
	}
	var we *wire.Error
	if !errors.Is(err2, sdk.ErrLeaderChanged) || errors.As(err2, &we) {
		t.Fatalf("ACCEPT answered by the deposed leader of term 4: err = %v, want ErrLeaderChanged and no refusal", err2)
	}
}
