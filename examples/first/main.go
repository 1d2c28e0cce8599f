// Command first runs one command on an Agora cluster and prints how it ended.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"

	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/wire"
)

type first struct { // launches one task on the first offer that fits it
	sdk.BaseScheduler
	cmd      string
	launched bool
	done     chan wire.TaskStatus
}

func (f *first) Offers(ctx context.Context, d *sdk.Driver, offers []wire.Offer) {
	task := sdk.Task("first").Shell(f.cmd).CPUs(0.1).Mem(32)
	for _, o := range offers {
		if !f.launched && o.Resources.Contains(task.Info().Resources) {
			_, err := d.Launch(ctx, o, task.Info())
			f.launched = err == nil
			continue
		}
		_ = d.Decline(ctx, []wire.OfferID{o.ID}, 30) // not needed: keep it from us for 30 s
	}
}

func (f *first) Update(ctx context.Context, d *sdk.Driver, s wire.TaskStatus) {
	fmt.Println(s.TaskID, s.State, s.Message)
	if s.State.Terminal() {
		f.done <- s
	}
}

func run(ctx context.Context, natsURLs []string, id wire.FrameworkID, cmd string) (wire.TaskStatus, error) {
	f := &first{cmd: cmd, done: make(chan wire.TaskStatus, 1)}
	d, err := sdk.NewDriver(sdk.Config{NATSURLs: natsURLs, Framework: wire.FrameworkInfo{ID: id, Name: "first"}}, f)
	if err != nil {
		return wire.TaskStatus{}, err
	}
	go func() { _ = d.Run(ctx) }()
	s := <-f.done
	return s, d.Stop(ctx, false) // finished: tear the framework down
}

func main() {
	natsURL := flag.String("nats", "nats://127.0.0.1:4222", "the cluster's NATS (nats://user:password@... to log in)")
	id := flag.String("framework-id", "", "framework ID (default: a new one; a secured cluster says which)")
	cmd := flag.String("cmd", "echo hello, agora", "the command to run")
	flag.Parse()
	if _, err := run(context.Background(), []string{*natsURL}, wire.FrameworkID(*id), *cmd); err != nil {
		log.Fatal(err)
	}
}
