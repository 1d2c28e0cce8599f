// Command hello is a complete Agora framework: it launches N tasks that
// echo a greeting, prints each task's updates, and exits when all have
// finished.
//
//	go run ./examples/hello --nats nats://127.0.0.1:4222 --tasks 5
//
// On a secured cluster (agora dev prints the command), log in with the
// URL and use a framework ID that the login may use:
//
//	go run ./examples/hello --nats nats://examples:PASSWORD@127.0.0.1:4222 --framework-id hello
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"time"

	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/wire"
)

func main() {
	natsURL := flag.String("nats", "nats://127.0.0.1:4222", "NATS URL(s) of the cluster, comma separated")
	id := flag.String("framework-id", "", "framework ID (default: a new one); on a secured cluster, one your NATS login may use")
	n := flag.Int("tasks", 3, "number of tasks to launch (0: exit at once)")
	timeout := flag.Duration("timeout", time.Minute, "give up after this long")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	res, err := Run(ctx, strings.Split(*natsURL, ","), wire.FrameworkID(*id), *n, os.Stdout)
	if err != nil {
		log.Fatal(err)
	}
	if res.Failed > 0 {
		os.Exit(1)
	}
}

// Result counts how the tasks ended.
type Result struct{ Finished, Failed int }

// Run launches n echo tasks on the cluster at natsURLs, as framework id
// ("" for a new one), and returns when every task has ended (or ctx ends).
// With n = 0 it returns at once.
func Run(ctx context.Context, natsURLs []string, id wire.FrameworkID, n int, out io.Writer) (Result, error) {
	return run(ctx, natsURLs, id, n, out, func(h *hello) sdk.Scheduler { return h })
}

// run is Run with the scheduler wrapped (tests inject faults).
func run(ctx context.Context, natsURLs []string, id wire.FrameworkID, n int, out io.Writer, wrap func(*hello) sdk.Scheduler) (Result, error) {
	if n < 0 {
		return Result{}, fmt.Errorf("hello: %d tasks: want 0 or more", n)
	}
	if n == 0 {
		return Result{}, nil
	}
	h := &hello{total: n, out: out, live: map[wire.TaskID]wire.AgentID{}, done: make(chan struct{})}
	d, err := sdk.NewDriver(sdk.Config{
		NATSURLs:  natsURLs,
		Framework: wire.FrameworkInfo{ID: id, Name: "hello"},
	}, wrap(h))
	if err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- d.Run(ctx) }()
	select {
	case <-h.done:
		err := d.Stop(ctx, false) // tear down: the framework is finished
		if err != nil {
			cancel() // no leader took the teardown: give up
		}
		<-errc
		return h.res, err
	case err := <-errc:
		return h.res, err
	}
}

// hello's fields are only touched from the driver's callbacks, which run
// one at a time.
type hello struct {
	sdk.BaseScheduler
	total int
	next  int                          // the last task number used: IDs are never reused
	live  map[wire.TaskID]wire.AgentID // launched, not ended or dropped
	res   Result
	out   io.Writer
	done  chan struct{}
}

// missing is how many tasks still have to be launched.
func (h *hello) missing() int { return h.total - h.res.Finished - h.res.Failed - len(h.live) }

// Subscribed asks after the tasks launched but not yet heard of: a launch
// whose reply was lost in a failover may not have reached the master, and
// the master answers for such a task with TASK_UNKNOWN.
func (h *hello) Subscribed(ctx context.Context, d *sdk.Driver, _ wire.Subscribed) {
	var ids []wire.TaskID
	for id := range h.live {
		ids = append(ids, id)
	}
	h.askAfter(ctx, d, ids)
}

// askAfter asks the master for the state of live tasks (on the agents
// they were launched on).
func (h *hello) askAfter(ctx context.Context, d *sdk.Driver, ids []wire.TaskID) {
	if len(ids) == 0 {
		return
	}
	ask := make([]wire.ReconcileTask, len(ids))
	for i, id := range ids {
		ask[i] = wire.ReconcileTask{TaskID: id, AgentID: h.live[id]}
	}
	_, _ = d.Reconcile(ctx, ask...)
}

// Offers launches as many echo tasks as each offer holds, until all are out.
func (h *hello) Offers(ctx context.Context, d *sdk.Driver, offers []wire.Offer) {
	task := wire.Resources{CPUs: 0.1, MemMB: 32}
	for _, o := range offers {
		var tasks []wire.TaskInfo
		left := o.Resources
		for len(tasks) < h.missing() && left.Contains(task) {
			h.next++
			id := wire.TaskID(fmt.Sprintf("hello-%d", h.next))
			tasks = append(tasks, wire.TaskInfo{
				TaskID:    id,
				Name:      string(id),
				Resources: task,
				Command:   wire.CommandInfo{Value: fmt.Sprintf("echo hello from task %d on $(hostname)", h.next), Shell: true},
			})
			left = left.Sub(task)
		}
		if len(tasks) == 0 {
			_ = d.Decline(ctx, []wire.OfferID{o.ID}, 60) // Update revives if a task must be replaced
			continue
		}
		for _, t := range tasks {
			h.live[t.TaskID] = o.AgentID
		}
		if _, err := d.Launch(ctx, o, tasks...); err != nil {
			// A refused launch comes back as TASK_DROPPED updates; a
			// lost reply leaves the tasks in doubt: ask after them.
			fmt.Fprintf(h.out, "launch on %s failed: %v\n", o.Hostname, err)
			var refused *wire.Error
			if !errors.As(err, &refused) {
				ids := make([]wire.TaskID, len(tasks))
				for i, t := range tasks {
					ids[i] = t.TaskID
				}
				h.askAfter(ctx, d, ids)
			}
		}
	}
}

// Update prints each update and counts the tasks that ended. A task that
// never started (dropped, or unknown to the master) is not a failure: a
// new task, with a new ID, replaces it.
func (h *hello) Update(ctx context.Context, d *sdk.Driver, s wire.TaskStatus) {
	line := fmt.Sprintf("%s %s", s.TaskID, s.State)
	if s.ExitCode != nil {
		line += fmt.Sprintf(" exit=%d", *s.ExitCode)
	}
	if s.Message != "" {
		line += " (" + s.Message + ")"
	}
	fmt.Fprintln(h.out, line)
	if _, live := h.live[s.TaskID]; !live {
		return // a repeated update, or one of a task already replaced
	}
	switch {
	case s.State == wire.TaskDropped || s.State == wire.TaskUnknown:
		delete(h.live, s.TaskID)
		_ = d.Revive(ctx) // offers again now, not after the decline filter
		return
	case !s.State.Terminal():
		return
	case s.State == wire.TaskFinished:
		h.res.Finished++
	default:
		h.res.Failed++
	}
	delete(h.live, s.TaskID)
	if h.res.Finished+h.res.Failed == h.total {
		close(h.done)
	}
}
