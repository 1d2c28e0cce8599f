package controller

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agora-cluster/agora/framework/service/events"
	"github.com/agora-cluster/agora/framework/service/health"
	"github.com/agora-cluster/agora/framework/service/spec"
	"github.com/agora-cluster/agora/framework/service/store"
	"github.com/agora-cluster/agora/sdk/wire"
)

type launchCall struct {
	offer wire.Offer
	tasks []wire.TaskInfo
}

type fakeDriver struct {
	mu         sync.Mutex
	launches   []launchCall
	declined   []wire.OfferID
	killed     []wire.TaskID
	revives    int
	suppresses int
	reconciled []wire.ReconcileTask
}

func (f *fakeDriver) Launch(_ context.Context, o wire.Offer, tasks ...wire.TaskInfo) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range tasks {
		tasks[i].AgentID = o.AgentID
		if err := tasks[i].Validate(); err != nil {
			return err
		}
		// The master refuses task IDs that would break a subject or a path.
		if strings.ContainsAny(string(tasks[i].TaskID), ".*>/\\ \t") {
			return fmt.Errorf("task_id %q: invalid character", tasks[i].TaskID)
		}
	}
	f.launches = append(f.launches, launchCall{o, tasks})
	return nil
}

func (f *fakeDriver) Decline(_ context.Context, ids []wire.OfferID, _ float64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.declined = append(f.declined, ids...)
	return nil
}

func (f *fakeDriver) Kill(_ context.Context, id wire.TaskID, _ wire.AgentID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.killed = append(f.killed, id)
	return nil
}

func (f *fakeDriver) Revive(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revives++
	return nil
}

func (f *fakeDriver) Suppress(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.suppresses++
	return nil
}

func (f *fakeDriver) Reconcile(_ context.Context, ts []wire.ReconcileTask) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reconciled = append(f.reconciled, ts...)
	return nil
}

type fakeHealth struct {
	mu      sync.Mutex
	watched map[string]health.Target
}

func (f *fakeHealth) Watch(id string, _ []spec.HealthCheck, t health.Target) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.watched[id] = t
}

func (f *fakeHealth) Unwatch(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.watched, id)
}

type harness struct {
	t      *testing.T
	ctx    context.Context
	c      *Controller
	d      *fakeDriver
	h      *fakeHealth
	st     *store.Store
	path   string
	now    time.Time
	evMu   sync.Mutex
	events []events.Event
	// tasks launched and not yet ended, by ID.
	live  map[wire.TaskID]wire.TaskInfo
	seen  int // launches consumed
	kseen int
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, ctx: context.Background(), d: &fakeDriver{}, h: &fakeHealth{watched: map[string]health.Target{}},
		now: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC), live: map[wire.TaskID]wire.TaskInfo{}}
	h.path = filepath.Join(t.TempDir(), "state.db")
	h.open()
	t.Cleanup(func() { h.st.Close() })
	return h
}

func (h *harness) open() {
	h.t.Helper()
	st, err := store.Open(h.path)
	if err != nil {
		h.t.Fatal(err)
	}
	h.st = st
	c, err := New(Config{
		Store: st, Driver: h.d, Health: h.h, Now: func() time.Time { return h.now },
		ProbeHost:  func(string) string { return "127.0.0.1" },
		StallAfter: 10 * time.Second,
		Events: func(e events.Event) {
			h.evMu.Lock()
			h.events = append(h.events, e)
			h.evMu.Unlock()
		},
	})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := c.Load(); err != nil {
		h.t.Fatal(err)
	}
	h.c = c
	c.Subscribed(h.ctx)
}

// restart simulates a framework restart: a new controller on the same
// store file.
func (h *harness) restart() {
	h.t.Helper()
	h.st.Close()
	h.d.mu.Lock()
	h.seen = len(h.d.launches)
	h.kseen = len(h.d.killed)
	h.d.mu.Unlock()
	h.h = &fakeHealth{watched: map[string]health.Target{}}
	h.open()
}

func (h *harness) deploy(doc string) DeployResult {
	h.t.Helper()
	sp, err := spec.Parse([]byte(doc))
	if err != nil {
		h.t.Fatal(err)
	}
	res, err := h.c.Deploy(h.ctx, sp)
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

var offerN int

func offer(host, res string, attrs ...string) wire.Offer {
	r, err := wire.ParseResources(res)
	if err != nil {
		panic(err)
	}
	offerN++
	o := wire.Offer{ID: wire.OfferID(fmt.Sprintf("o%d", offerN)), AgentID: wire.AgentID("agent-" + host), Hostname: host, Resources: r}
	if len(attrs) > 0 {
		o.Attributes = map[string]string{}
		for i := 0; i+1 < len(attrs); i += 2 {
			o.Attributes[attrs[i]] = attrs[i+1]
		}
	}
	return o
}

// agents returns one roomy offer per host.
func agents(hosts ...string) []wire.Offer {
	var out []wire.Offer
	for _, host := range hosts {
		out = append(out, offer(host, "cpus:8;mem:8192;disk:1000;ports:[31000-31099]"))
	}
	return out
}

// offers sends offers and returns the tasks launched in answer.
func (h *harness) offers(os ...wire.Offer) []wire.TaskInfo {
	h.t.Helper()
	h.c.Offers(h.ctx, os)
	return h.newLaunches()
}

func (h *harness) newLaunches() []wire.TaskInfo {
	h.d.mu.Lock()
	defer h.d.mu.Unlock()
	var out []wire.TaskInfo
	for _, l := range h.d.launches[h.seen:] {
		out = append(out, l.tasks...)
	}
	h.seen = len(h.d.launches)
	for _, t := range out {
		h.live[t.TaskID] = t
	}
	return out
}

// newKills returns the tasks killed since the last call.
func (h *harness) newKills() []wire.TaskID {
	h.d.mu.Lock()
	defer h.d.mu.Unlock()
	out := append([]wire.TaskID(nil), h.d.killed[h.kseen:]...)
	h.kseen = len(h.d.killed)
	return out
}

func (h *harness) update(id wire.TaskID, state wire.TaskState) {
	h.t.Helper()
	h.c.Update(h.ctx, wire.TaskStatus{TaskID: id, AgentID: h.live[id].AgentID, State: state, Timestamp: h.now})
	if state.Terminal() {
		delete(h.live, id)
	}
}

func (h *harness) running(ids ...wire.TaskID) {
	for _, id := range ids {
		h.update(id, wire.TaskRunning)
	}
}

func (h *harness) probe(id wire.TaskID, ok bool) {
	h.c.HealthResult(h.ctx, health.Result{Instance: string(id), Check: 0, OK: ok, Message: map[bool]string{true: "", false: "connection refused"}[ok]})
}

// ackKills answers every kill asked for with TASK_KILLED.
func (h *harness) ackKills() []wire.TaskID {
	ks := h.newKills()
	for _, id := range ks {
		if _, ok := h.live[id]; ok {
			h.update(id, wire.TaskKilled)
		}
	}
	return ks
}

func (h *harness) advance(d time.Duration) {
	h.now = h.now.Add(d)
	h.c.Tick(h.ctx)
}

func (h *harness) app(id string) AppStatus {
	h.t.Helper()
	st, err := h.c.App(id)
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

func ids(ts []wire.TaskInfo) []wire.TaskID {
	out := make([]wire.TaskID, len(ts))
	for i, t := range ts {
		out[i] = t.TaskID
	}
	return out
}

func (h *harness) eventsOf(typ events.Type) []events.Event {
	h.evMu.Lock()
	defer h.evMu.Unlock()
	var out []events.Event
	for _, e := range h.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func configOf(t wire.TaskInfo) string { return t.Labels[LabelConfig] }

func hosts(ts []wire.TaskInfo, os []wire.Offer) []string {
	byAgent := map[wire.AgentID]string{}
	for _, o := range os {
		byAgent[o.AgentID] = o.Hostname
	}
	var out []string
	for _, t := range ts {
		out = append(out, byAgent[t.AgentID])
	}
	sort.Strings(out)
	return out
}

func mustContain(t *testing.T, s, want string) {
	t.Helper()
	if !strings.Contains(s, want) {
		t.Fatalf("%q does not mention %q", s, want)
	}
}
