package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/sdktest"
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
