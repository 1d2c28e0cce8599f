// Command drf shows Dominant Resource Fairness through offers: two
// frameworks with different task shapes each take one task per offer and
// give the rest back at once. On one agent of 9 CPUs and 18 GB, framework
// A (tasks of 1 CPU, 4 GB) ends with 3 tasks and B (3 CPUs, 1 GB) with 2:
// both hold two thirds of their dominant resource (Ghodsi et al., 2011).
// It stops as soon as what is left of the agent fits neither framework's
// task.
//
//	go run . dev --agents 1 --agent-resources "cpus:9;mem:18432;disk:1000"
//	go run ./examples/drf
//
// On a secured cluster add the login and an ID prefix whose -a and -b IDs
// it may use: --nats nats://examples:PASSWORD@127.0.0.1:4222 --framework-id drf.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"strings"
	"sync"
	"time"

	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/wire"
)

func main() {
	natsURL := flag.String("nats", "nats://127.0.0.1:4222", "NATS URL(s), comma separated")
	id := flag.String("framework-id", "", "framework ID prefix: the frameworks are ID-a and ID-b (default: new IDs)")
	timeout := flag.Duration("timeout", time.Minute, "give up if the agent is not full after this long")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	a, b, err := Run(ctx, strings.Split(*natsURL, ","), *id)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("A (1 CPU, 4 GB tasks): %d tasks\nB (3 CPU, 1 GB tasks): %d tasks\n", a, b)
}

// fair launches one task of its shape per offer and declines the rest
// with refuse_seconds 0, so the allocator decides who gets what next.
// Until every framework of the demo has subscribed, it declines whole
// offers: otherwise the first to subscribe would fill the agent alone.
//
// An offer is all that is free on the agent (a framework holds its offer
// only until it launches one task), and no task ends, so what an offer
// holds less the task launched from it is all that is left: when that
// fits no framework's shape, the agent is full.
type fair struct {
	sdk.BaseScheduler
	name    string
	shape   wire.Resources
	ready   <-chan struct{}
	up      func()
	left    func(wire.Resources) // told what is left on the agent after each offer
	changed func()               // told when a task starts running
	mu      sync.Mutex
	n       int                  // tasks launched
	running map[wire.TaskID]bool // tasks seen running
	err     error
}

func (f *fair) Subscribed(context.Context, *sdk.Driver, wire.Subscribed) { f.up() }

// Update counts the tasks that run.
func (f *fair) Update(_ context.Context, _ *sdk.Driver, s wire.TaskStatus) {
	f.mu.Lock()
	if s.State == wire.TaskRunning {
		f.running[s.TaskID] = true
	} else {
		delete(f.running, s.TaskID)
	}
	f.mu.Unlock()
	f.changed()
}

func (f *fair) Offers(ctx context.Context, d *sdk.Driver, offers []wire.Offer) {
	for _, o := range offers {
		select {
		case <-f.ready:
		default:
			_ = d.Decline(ctx, []wire.OfferID{o.ID}, 0)
			continue
		}
		if !o.Resources.Contains(f.shape) {
			f.left(o.Resources)
			_ = d.Decline(ctx, []wire.OfferID{o.ID}, 1)
			continue
		}
		f.mu.Lock()
		id := fmt.Sprintf("%s-%d", f.name, f.n+1)
		f.mu.Unlock()
		task := sdk.Task(id).Shell("sleep 3600").CPUs(f.shape.CPUs).Mem(f.shape.MemMB).On(o.AgentID, nil)
		res, err := d.Accept(ctx, []wire.OfferID{o.ID}, []wire.Operation{{Type: wire.OpLaunch, Tasks: []wire.TaskInfo{task}}}, sdk.Refuse(0))
		f.mu.Lock()
		f.n += len(res.Launched)
		if err != nil && ctx.Err() == nil && f.err == nil {
			f.err = fmt.Errorf("%s: accept: %w", f.name, err)
		}
		f.mu.Unlock()
		if len(res.Launched) == 1 {
			f.left(o.Resources.Sub(task.Resources))
		}
	}
}

func (f *fair) result() (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n, f.err
}

// settled reports whether every task launched runs.
func (f *fair) settled() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.running) == f.n
}

// Run lets both frameworks (IDs idPrefix-a and idPrefix-b, or new ones
// if idPrefix is "") fill the cluster's one agent until neither fits in
// what is left and every task launched runs, then tears them down and
// returns how many tasks each launched. It gives up when ctx ends.
func Run(ctx context.Context, natsURLs []string, idPrefix string) (int, int, error) {
	ready := make(chan struct{})
	var once sync.Once
	var subscribed sync.Map
	frameworks := []*fair{
		{name: "a", shape: wire.Resources{CPUs: 1, MemMB: 4096}},
		{name: "b", shape: wire.Resources{CPUs: 3, MemMB: 1024}},
	}
	full := make(chan struct{})
	var fullOnce sync.Once
	left := func(r wire.Resources) {
		for _, f := range frameworks {
			if r.Contains(f.shape) {
				return
			}
		}
		fullOnce.Do(func() { close(full) })
	}
	changed := make(chan struct{}, 1)
	poke := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	for _, f := range frameworks {
		f.ready, f.left, f.changed, f.running = ready, left, poke, map[wire.TaskID]bool{}
		f.up = func() {
			subscribed.Store(f.name, true)
			n := 0
			subscribed.Range(func(any, any) bool { n++; return true })
			if n == len(frameworks) {
				once.Do(func() { close(ready) })
			}
		}
	}
	var drivers []*sdk.Driver
	var running sync.WaitGroup
	defer running.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, f := range frameworks {
		info := wire.FrameworkInfo{Name: "drf-" + f.name}
		if idPrefix != "" {
			info.ID = wire.FrameworkID(idPrefix + "-" + f.name)
		}
		d, err := sdk.NewDriver(sdk.Config{NATSURLs: natsURLs, Framework: info}, f)
		if err != nil {
			return 0, 0, err
		}
		drivers = append(drivers, d)
		running.Add(1)
		go func() { defer running.Done(); _ = d.Run(ctx) }()
	}
	// Wait until the agent is full and every task runs: a teardown that
	// overtakes a launch could leave that task behind.
	select {
	case <-full:
	case <-ctx.Done():
		a, _ := frameworks[0].result()
		b, _ := frameworks[1].result()
		return 0, 0, fmt.Errorf("the agent did not fill up (A has %d tasks, B %d): %w", a, b, ctx.Err())
	}
	for !frameworks[0].settled() || !frameworks[1].settled() {
		select {
		case <-changed:
		case <-ctx.Done():
			return 0, 0, fmt.Errorf("the tasks did not all start: %w", ctx.Err())
		}
	}
	// Count before tearing down: once one framework is gone, the other
	// is offered what it freed.
	a, errA := frameworks[0].result()
	b, errB := frameworks[1].result()
	for _, d := range drivers {
		_ = d.Stop(ctx, false) // kill the sleeping tasks
	}
	if errA != nil {
		return a, b, errA
	}
	return a, b, errB
}
