package main

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/sdktest"
)

func TestPi(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(2, "cpus:1;mem:256"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pi, err := Run(ctx, c.NATSURLs(), "", 4, 20000)
	if err != nil {
		t.Fatal(err)
	}
	// 80,000 samples: the standard error is about 0.006.
	if math.Abs(pi-math.Pi) > 0.05 {
		t.Fatalf("π estimated as %v", pi)
	}
}
