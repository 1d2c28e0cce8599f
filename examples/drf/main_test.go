package main

import (
	"context"
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/sdktest"
)

// TestDRF: on one agent of 9 CPUs and 18 GB, A (1 CPU, 4 GB tasks) ends
// with 3 tasks and B (3 CPUs, 1 GB) with 2, as in the DRF paper. Run
// returns as soon as the agent has no room for either.
func TestDRF(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:9;mem:18432"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, b, err := Run(ctx, c.NATSURLs(), "")
	if err != nil {
		t.Fatal(err)
	}
	if a != 3 || b != 2 {
		t.Fatalf("A launched %d tasks and B %d, want 3 and 2", a, b)
	}
}
