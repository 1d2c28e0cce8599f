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
	n := flag.Int("tasks", 3, "number of tasks to launch")
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
func Run(ctx context.Context, natsURLs []string, id wire.FrameworkID, n int, out io.Writer) (Result, error) {
	h := &hello{total: n, out: out, ended: map[wire.TaskID]bool{}, done: make(chan struct{})}
	d, err := sdk.NewDriver(sdk.Config{
		NATSURLs:  natsURLs,
		Framework: wire.FrameworkInfo{ID: id, Name: "hello"},
	}, h)
	if err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- d.Run(ctx) }()
	select {
	case <-h.done:
		_ = d.Stop(ctx, false) // tear down: the framework is finished
		<-errc
		return h.res, nil
	case err := <-errc:
		return h.res, err
	}
}

type hello struct {
	sdk.BaseScheduler
	total    int
	launched int
	res      Result
	ended    map[wire.TaskID]bool // updates can repeat: count each task once
	out      io.Writer
	done     chan struct{}
}

// Offers launches as many echo tasks as each offer holds, until all are out.
func (h *hello) Offers(ctx context.Context, d *sdk.Driver, offers []wire.Offer) {
	task := wire.Resources{CPUs: 0.1, MemMB: 32}
	for _, o := range offers {
		var tasks []wire.TaskInfo
		left := o.Resources
		for h.launched < h.total && left.Contains(task) {
			h.launched++
			id := wire.TaskID(fmt.Sprintf("hello-%d", h.launched))
			tasks = append(tasks, wire.TaskInfo{
				TaskID:    id,
				Name:      string(id),
				Resources: task,
				Command:   wire.CommandInfo{Value: fmt.Sprintf("echo hello from task %d on $(hostname)", h.launched), Shell: true},
			})
			left = left.Sub(task)
		}
		if len(tasks) == 0 {
			_ = d.Decline(ctx, []wire.OfferID{o.ID}, 60)
			continue
		}
		if _, err := d.Launch(ctx, o, tasks...); err != nil {
			fmt.Fprintf(h.out, "launch on %s failed: %v\n", o.Hostname, err)
			h.launched -= len(tasks)
		}
	}
}

// Update prints each update and counts the tasks that ended.
func (h *hello) Update(ctx context.Context, d *sdk.Driver, s wire.TaskStatus) {
	line := fmt.Sprintf("%s %s", s.TaskID, s.State)
	if s.ExitCode != nil {
		line += fmt.Sprintf(" exit=%d", *s.ExitCode)
	}
	if s.Message != "" {
		line += " (" + s.Message + ")"
	}
	fmt.Fprintln(h.out, line)
	if !s.State.Terminal() || h.ended[s.TaskID] {
		return
	}
	h.ended[s.TaskID] = true
	switch {
	case s.State == wire.TaskFinished:
		h.res.Finished++
	default:
		h.res.Failed++
	}
	if h.res.Finished+h.res.Failed == h.total {
		close(h.done)
	}
}
