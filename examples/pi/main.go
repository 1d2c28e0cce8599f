// Command pi estimates π by Monte Carlo: it fans the sampling out as
// tasks that each print "hits samples" on stdout, then reads every task's
// stdout from its sandbox through the leader's HTTP API and combines them.
//
//	go run ./examples/pi --tasks 8 --samples 200000
//
// On a secured cluster add the login and a framework ID it may use:
// --nats nats://examples:PASSWORD@127.0.0.1:4222 --framework-id pi.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"

	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/wire"
)

func main() {
	natsURL := flag.String("nats", "nats://127.0.0.1:4222", "NATS URL(s), comma separated")
	id := flag.String("framework-id", "", "framework ID (default: a new one); on a secured cluster, one your NATS login may use")
	tasks := flag.Int("tasks", 4, "number of tasks")
	samples := flag.Int("samples", 100000, "samples per task")
	flag.Parse()
	pi, err := Run(context.Background(), strings.Split(*natsURL, ","), wire.FrameworkID(*id), *tasks, *samples)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("π ≈ %.5f from %d samples\n", pi, *tasks**samples)
}

type piFramework struct {
	sdk.BaseScheduler
	tasks, samples, launched int
	leaderHTTP               string
	finished                 map[wire.TaskID]wire.AgentID
	failed                   error
	done                     chan struct{}
}

func (p *piFramework) Subscribed(_ context.Context, _ *sdk.Driver, s wire.Subscribed) {
	p.leaderHTTP = s.Leader.HTTP
}

func (p *piFramework) Offers(ctx context.Context, d *sdk.Driver, offers []wire.Offer) {
	var builders []*sdk.TaskBuilder
	for i := p.launched; i < p.tasks; i++ {
		cmd := fmt.Sprintf(`awk 'BEGIN { srand(%d); for (i = 0; i < %d; i++) { x = rand(); y = rand(); if (x*x + y*y < 1) h++ } print h+0, %d }'`, i+1, p.samples, p.samples)
		builders = append(builders, sdk.Task(fmt.Sprintf("pi-%d", i)).Shell(cmd).CPUs(0.1).Mem(16))
	}
	placed, _ := sdk.Pack(offers, builders, sdk.PackOptions{Strategy: sdk.Spread})
	used := map[wire.OfferID]bool{}
	for _, pl := range placed {
		if _, err := d.Launch(ctx, pl.Offer, pl.Tasks...); err == nil {
			p.launched += len(pl.Tasks)
			used[pl.Offer.ID] = true
		}
	}
	for _, o := range offers {
		if !used[o.ID] {
			_ = d.Decline(ctx, []wire.OfferID{o.ID}, 5)
		}
	}
}

func (p *piFramework) Update(_ context.Context, _ *sdk.Driver, s wire.TaskStatus) {
	if !s.State.Terminal() || p.finished[s.TaskID] != "" {
		return
	}
	if s.State != wire.TaskFinished {
		p.failed = fmt.Errorf("task %s ended %s: %s", s.TaskID, s.State, s.Message)
	}
	p.finished[s.TaskID] = s.AgentID
	if len(p.finished) == p.tasks {
		close(p.done)
	}
}

// Run launches the tasks as framework id ("" for a new one), waits for
// them, and combines their stdout.
func Run(ctx context.Context, natsURLs []string, id wire.FrameworkID, tasks, samples int) (float64, error) {
	p := &piFramework{tasks: tasks, samples: samples, finished: map[wire.TaskID]wire.AgentID{}, done: make(chan struct{})}
	d, err := sdk.NewDriver(sdk.Config{NATSURLs: natsURLs, Framework: wire.FrameworkInfo{ID: id, Name: "pi"}}, p)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = d.Run(ctx) }()
	select {
	case <-p.done:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	// The driver goroutine no longer writes p's fields once done is closed.
	defer d.Stop(context.Background(), false)
	if p.failed != nil {
		return 0, p.failed
	}
	var hits, total int
	for task, agent := range p.finished {
		url := fmt.Sprintf("http://%s/api/v1/agents/%s/sandbox/%s/%s/stdout", p.leaderHTTP, agent, d.FrameworkID(), task)
		resp, err := http.Get(url)
		if err != nil {
			return 0, err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var h, n int
		if _, err := fmt.Sscan(string(body), &h, &n); err != nil || n == 0 {
			return 0, fmt.Errorf("task %s printed %q (HTTP %d)", task, body, resp.StatusCode)
		}
		hits, total = hits+h, total+n
	}
	return 4 * float64(hits) / float64(total), nil
}
