package main

import (
	"context"
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/sdktest"
)

func TestDRF(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:9;mem:18432"))
	a, b, err := Run(context.Background(), c.NATSURLs(), "", 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if a != 3 || b != 2 {
		t.Fatalf("A launched %d tasks and B %d, want 3 and 2", a, b)
	}
}
