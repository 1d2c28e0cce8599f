package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// TestHello runs the example against an in-process cluster: every task
// runs a real echo and finishes.
func TestHello(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(2, "cpus:1;mem:256"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	res, err := Run(ctx, c.NATSURLs(), "", 5, &out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Finished != 5 || res.Failed != 0 {
		t.Fatalf("result %+v\n%s", res, out.String())
	}
	if n := strings.Count(out.String(), "TASK_FINISHED exit=0"); n != 5 {
		t.Fatalf("%d tasks reported finished with exit 0:\n%s", n, out.String())
	}
}

// staleFirst hands hello its first offers with IDs the master does not
// know, so that the first launch is refused and its tasks dropped.
type staleFirst struct {
	*hello
	done bool
}

func (s *staleFirst) Offers(ctx context.Context, d *sdk.Driver, offers []wire.Offer) {
	if !s.done {
		s.done = true
		stale := make([]wire.Offer, len(offers))
		for i, o := range offers {
			stale[i] = o
			stale[i].ID = "stale-" + o.ID
		}
		s.hello.Offers(ctx, d, stale)
		_ = d.Decline(ctx, offersIDs(offers), 0)
		return
	}
	s.hello.Offers(ctx, d, offers)
}

func offersIDs(offers []wire.Offer) []wire.OfferID {
	ids := make([]wire.OfferID, len(offers))
	for i, o := range offers {
		ids[i] = o.ID
	}
	return ids
}

// TestHelloFailedLaunch: tasks of a refused launch are dropped, not
// failed; new tasks with new IDs replace them and all finish.
func TestHelloFailedLaunch(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:1;mem:256"), sdktest.Simulated())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	res, err := run(ctx, c.NATSURLs(), "", 3, &out, func(h *hello) sdk.Scheduler { return &staleFirst{hello: h} })
	if err != nil {
		t.Fatal(err)
	}
	if res.Finished != 3 || res.Failed != 0 {
		t.Fatalf("result %+v, want 3 finished and none failed\n%s", res, out.String())
	}
	for _, want := range []string{"launch on", "hello-1 TASK_DROPPED", "hello-4 TASK_FINISHED", "hello-6 TASK_FINISHED"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "hello-1 TASK_FINISHED") {
		t.Fatalf("a dropped task's ID was reused:\n%s", out.String())
	}
}

// TestHelloNoTasks: --tasks 0 returns at once, without a cluster.
func TestHelloNoTasks(t *testing.T) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		res, err := Run(context.Background(), []string{"nats://127.0.0.1:1"}, "", 0, &bytes.Buffer{})
		if err != nil || res != (Result{}) {
			t.Errorf("Run with no tasks: %+v, %v", res, err)
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run with no tasks did not return")
	}
	if _, err := Run(context.Background(), nil, "", -1, &bytes.Buffer{}); err == nil {
		t.Fatal("Run with -1 tasks: no error")
	}
}
