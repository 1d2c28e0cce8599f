// Command failover is a framework that survives a master failover and its
// own restart. It keeps N long-running tasks up. Its framework ID and the
// tasks it launched live in --state-dir, so a restarted framework resumes
// as the same framework (within its failover timeout its tasks keep
// running), reconciles, and relaunches only tasks that really ended.
//
//	go run ./examples/failover --tasks 3 --state-dir /tmp/failover
//
// On a secured cluster add the login and a framework ID it may use:
// --nats nats://examples:PASSWORD@127.0.0.1:4222 --framework-id failover.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/wire"
)

func main() {
	natsURL := flag.String("nats", "nats://127.0.0.1:4222", "NATS URL(s), comma separated")
	id := flag.String("framework-id", "", "framework ID on first start (default: a new one); on a secured cluster, one your NATS login may use")
	n := flag.Int("tasks", 3, "tasks to keep running")
	dir := flag.String("state-dir", filepath.Join(os.TempDir(), "agora-failover-example"), "where the framework keeps its state")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	f, err := New(strings.Split(*natsURL, ","), wire.FrameworkID(*id), *dir, *n)
	if err != nil {
		log.Fatal(err)
	}
	// Ctrl-C stops the framework with failover: its tasks keep running
	// and the next start resumes it.
	if err := f.Run(ctx); err != nil && err != context.Canceled {
		log.Fatal(err)
	}
}

// Framework keeps Want tasks running.
type Framework struct {
	sdk.BaseScheduler
	Driver *sdk.Driver
	want   int
	path   string

	mu         sync.Mutex
	tasks      map[wire.TaskID]wire.TaskState // every task launched and not ended
	next       int                            // sequence for new task IDs
	launches   int                            // launches made by this process
	reconciled map[wire.TaskID]wire.TaskState // states the master confirmed by reconciliation
	offers     int                            // offer batches handled since the last subscription
}

type state struct {
	Tasks map[wire.TaskID]wire.TaskState `json:"tasks"`
	Next  int                            `json:"next"`
}

// New loads the framework's state from dir (if any) and builds its driver,
// as framework id ("" for the one in dir, or a new one).
func New(natsURLs []string, id wire.FrameworkID, dir string, want int) (*Framework, error) {
	f := &Framework{
		want: want, path: filepath.Join(dir, "tasks.json"),
		tasks: map[wire.TaskID]wire.TaskState{}, reconciled: map[wire.TaskID]wire.TaskState{},
	}
	if b, err := os.ReadFile(f.path); err == nil {
		var st state
		if err := json.Unmarshal(b, &st); err != nil {
			return nil, fmt.Errorf("%s: %w", f.path, err)
		}
		f.tasks, f.next = st.Tasks, st.Next
	}
	d, err := sdk.NewDriver(sdk.Config{
		NATSURLs:  natsURLs,
		Framework: wire.FrameworkInfo{ID: id, Name: "failover-example", FailoverTimeout: wire.Duration(time.Hour)},
		IDFile:    filepath.Join(dir, "framework-id"),
	}, f)
	if err != nil {
		return nil, err
	}
	f.Driver = d
	return f, nil
}

// Run runs until ctx ends. The driver then only disconnects, as
// Stop(ctx, true) would: the tasks keep running, and the next start
// resumes the framework within its failover timeout.
func (f *Framework) Run(ctx context.Context) error {
	return f.Driver.Run(ctx)
}

// save writes the state before the framework acts on it. f.mu is held.
func (f *Framework) save() {
	b, _ := json.Marshal(state{Tasks: f.tasks, Next: f.next})
	_ = os.MkdirAll(filepath.Dir(f.path), 0o755)
	if err := os.WriteFile(f.path+".tmp", b, 0o644); err == nil {
		_ = os.Rename(f.path+".tmp", f.path)
	}
}

// Subscribed starts a new count of offer batches: offers from before a
// (re-)subscription are void.
func (f *Framework) Subscribed(context.Context, *sdk.Driver, wire.Subscribed) {
	f.mu.Lock()
	f.offers = 0
	f.mu.Unlock()
}

// Offers launches tasks until Want are up; the task is recorded before it
// is launched, so a restart never launches it twice.
func (f *Framework) Offers(ctx context.Context, d *sdk.Driver, offers []wire.Offer) {
	defer func() {
		f.mu.Lock()
		f.offers++
		f.mu.Unlock()
	}()
	for _, o := range offers {
		f.mu.Lock()
		missing := f.want - len(f.tasks)
		if missing <= 0 {
			f.mu.Unlock()
			_ = d.Decline(ctx, []wire.OfferID{o.ID}, 10)
			continue
		}
		f.next++
		id := wire.TaskID(fmt.Sprintf("long-%d", f.next))
		f.tasks[id] = wire.TaskStaging
		f.launches++
		f.save()
		f.mu.Unlock()
		task := sdk.Task(string(id)).Shell("sleep 3600").CPUs(0.1).Mem(16).Info()
		if _, err := d.Launch(ctx, o, task); err != nil {
			f.mu.Lock()
			delete(f.tasks, id)
			f.save()
			f.mu.Unlock()
		}
	}
}

// Update tracks tasks; an ended one is forgotten (and replaced).
func (f *Framework) Update(ctx context.Context, d *sdk.Driver, s wire.TaskStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ours := f.tasks[s.TaskID]; !ours {
		return
	}
	if s.Reason == wire.ReasonReconciliation {
		f.reconciled[s.TaskID] = s.State
	}
	if s.State.Terminal() {
		delete(f.tasks, s.TaskID)
	} else {
		f.tasks[s.TaskID] = s.State
	}
	f.save()
}

// Progress is what a Framework has seen and done in this process.
type Progress struct {
	Running    []wire.TaskID // tasks last seen running, sorted
	Reconciled []wire.TaskID // tasks the master confirmed running by reconciliation, sorted
	Launches   int           // tasks this process launched
	Offers     int           // offer batches handled since the last subscription
}

// Progress reports the framework's progress.
func (f *Framework) Progress() Progress {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := Progress{Launches: f.launches, Offers: f.offers}
	for id, st := range f.tasks {
		if st == wire.TaskRunning {
			p.Running = append(p.Running, id)
		}
		if f.reconciled[id] == wire.TaskRunning {
			p.Reconciled = append(p.Reconciled, id)
		}
	}
	slices.Sort(p.Running)
	slices.Sort(p.Reconciled)
	return p
}
