package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/agora-cluster/agora/framework/batch/cron"
	"github.com/agora-cluster/agora/framework/batch/record"
	"github.com/agora-cluster/agora/framework/batch/spec"
	"github.com/agora-cluster/agora/framework/batch/store"
	"github.com/agora-cluster/agora/sdk/wire"
)

// fakeDriver records the engine's calls. onAccept, if set, runs inside
// Accept (to check what is stored at launch time).
type fakeDriver struct {
	mu         sync.Mutex
	launched   []wire.TaskInfo
	launchSeen map[wire.TaskID]int
	declined   []wire.OfferID
	killed     []wire.TaskID
	reconciled []wire.TaskID
	acked      []wire.TaskStatus
	revives    int
	suppresses int
	onAccept   func(tasks []wire.TaskInfo)
	acceptErr  error
}

func newFake() *fakeDriver { return &fakeDriver{launchSeen: map[wire.TaskID]int{}} }

func (f *fakeDriver) Accept(_ context.Context, _ []wire.OfferID, ops []wire.Operation, _ wire.Filters) (wire.AcceptResult, error) {
	var res wire.AcceptResult
	for _, op := range ops {
		if f.onAccept != nil {
			f.onAccept(op.Tasks)
		}
		f.mu.Lock()
		for _, t := range op.Tasks {
			f.launched = append(f.launched, t)
			f.launchSeen[t.TaskID]++
			res.Launched = append(res.Launched, t.TaskID)
		}
		f.mu.Unlock()
	}
	return res, f.acceptErr
}

func (f *fakeDriver) Decline(_ context.Context, ids []wire.OfferID, _ float64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.declined = append(f.declined, ids...)
	return nil
}

func (f *fakeDriver) Revive(context.Context, ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revives++
	return nil
}

func (f *fakeDriver) Suppress(context.Context, ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.suppresses++
	return nil
}

func (f *fakeDriver) Kill(_ context.Context, id wire.TaskID, _ wire.AgentID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.killed = append(f.killed, id)
	return nil
}

func (f *fakeDriver) Reconcile(_ context.Context, tasks ...wire.ReconcileTask) (wire.ReconcileResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range tasks {
		f.reconciled = append(f.reconciled, t.TaskID)
	}
	return wire.ReconcileResult{Answered: len(tasks)}, nil
}

func (f *fakeDriver) Acknowledge(_ context.Context, s wire.TaskStatus) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acked = append(f.acked, s)
	return nil
}

// takeLaunched returns and forgets the tasks launched so far.
func (f *fakeDriver) takeLaunched() []wire.TaskInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.launched
	f.launched = nil
	return out
}

func (f *fakeDriver) takeKilled() []wire.TaskID {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.killed
	f.killed = nil
	return out
}

// harness is an engine over a temporary store with a fake clock and
// driver; tests drive it step by step.
type harness struct {
	t     *testing.T
	path  string
	st    *store.Store
	e     *Engine
	d     *fakeDriver
	clock *cron.Fake
	ctx   context.Context
	offer int
}

var epoch = time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC)

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, path: filepath.Join(t.TempDir(), "state.db"), d: newFake(), clock: cron.NewFake(epoch), ctx: context.Background()}
	h.open()
	return h
}

func (h *harness) open() {
	h.t.Helper()
	st, err := store.Open(h.path, store.Options{NoSync: true})
	if err != nil {
		h.t.Fatal(err)
	}
	e, err := New(Config{Store: st, Clock: h.clock, ReconcileAfter: 10 * time.Second})
	if err != nil {
		h.t.Fatal(err)
	}
	h.st, h.e = st, e
	h.e.handleSubscribed(h.ctx, h.d, wire.Subscribed{FrameworkID: "fw"})
}

// restart drops the engine without any further commit (a crash after the
// last commit) and loads a new one from the same file.
func (h *harness) restart() {
	h.t.Helper()
	if err := h.st.Close(); err != nil {
		h.t.Fatal(err)
	}
	h.open()
}

func (h *harness) submit(yaml string) record.SubmitResult {
	h.t.Helper()
	jobs, err := spec.Parse([]byte(yaml), spec.YAML)
	if err != nil {
		h.t.Fatal(err)
	}
	res, err := h.e.Submit(h.ctx, jobs, SubmitOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

// offerOn sends one offer from agent with resources and attributes.
func (h *harness) offerOn(agent, res string, attrs map[string]string) {
	h.t.Helper()
	r, err := wire.ParseResources(res)
	if err != nil {
		h.t.Fatal(err)
	}
	h.offer++
	h.e.handleOffers(h.ctx, h.d, []wire.Offer{{ID: wire.OfferID(fmt.Sprintf("o%d", h.offer)), AgentID: wire.AgentID(agent), Hostname: agent, Resources: r, Attributes: attrs}})
	h.e.launches.Wait()
}

func (h *harness) offerBig() { h.offerOn("a1", "cpus:100;mem:100000;ports:[31000-31999]", nil) }

func (h *harness) update(id wire.TaskID, state wire.TaskState, code ...int) {
	h.t.Helper()
	s := wire.TaskStatus{TaskID: id, AgentID: "a1", State: state, UUID: string(id) + string(state), Timestamp: h.clock.Now()}
	if len(code) > 0 {
		c := code[0]
		s.ExitCode = &c
	}
	h.e.handleUpdate(h.ctx, s)
}

// finish reports RUNNING then the given end for tasks, and commits.
func (h *harness) finish(tasks []wire.TaskInfo, state wire.TaskState, code int) {
	h.t.Helper()
	for _, t := range tasks {
		h.update(t.TaskID, wire.TaskRunning)
		h.update(t.TaskID, state, code)
	}
	h.flush()
}

func (h *harness) flush() {
	h.t.Helper()
	if err := h.e.flush(h.ctx); err != nil {
		h.t.Fatal(err)
	}
	h.e.sendAcks(h.ctx)
}

func (h *harness) tick() { h.e.tick(h.ctx) }

func (h *harness) job(name string) record.JobStatus {
	h.t.Helper()
	st, err := h.e.Job(name)
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

func (h *harness) run(id uint64) record.RunStatus {
	h.t.Helper()
	st, err := h.e.RunStatus(h.ctx, id, true)
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}
