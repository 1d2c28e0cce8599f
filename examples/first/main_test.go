package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

func TestFirst(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:1;mem:256"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		s   wire.TaskStatus
		err error
	}
	ch := make(chan result, 1)
	go func() { s, err := run(ctx, c.NATSURLs(), "", "exit 0"); ch <- result{s, err} }()
	select {
	case r := <-ch:
		if r.err != nil || r.s.State != wire.TaskFinished {
			t.Fatalf("status %+v, err %v", r.s, r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the first framework did not finish within 30 s")
	}
}

// TestREADMEIncludesFirst: the README's "Write your first framework" is
// this file, verbatim, and at most 60 lines long.
func TestREADMEIncludesFirst(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(src), "\n"); n > 60 {
		t.Fatalf("examples/first/main.go has %d lines, the README promises at most 60", n)
	}
	if !strings.Contains(string(readme), "```go\n"+string(src)+"```") {
		t.Fatal("README.md does not include examples/first/main.go verbatim in a ```go block")
	}
}

// TestREADMEIncludesClusterTest: the README's test against a real cluster
// is TestAgainstCluster in cluster_test.go, verbatim.
func TestREADMEIncludesClusterTest(t *testing.T) {
	src, err := os.ReadFile("cluster_test.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(src), "func TestAgainstCluster")
	if i < 0 {
		t.Fatal("cluster_test.go has no TestAgainstCluster")
	}
	if !strings.Contains(string(readme), "```go\n"+string(src[i:])+"```") {
		t.Fatal("README.md does not include TestAgainstCluster of examples/first/cluster_test.go verbatim in a ```go block")
	}
}
