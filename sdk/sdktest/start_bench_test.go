package sdktest_test

import (
	"testing"

	"github.com/agora-cluster/agora/sdk/sdktest"
)

// BenchmarkStart measures sdktest.Start with three masters and four
// agents: from nothing to a leader elected and every agent registered
// with it (Start returns only then). Stopping the cluster is not timed.
//
//	go test -run '^$' -bench Start -benchtime 5x ./sdk/sdktest/
func BenchmarkStart(b *testing.B) {
	for b.Loop() {
		c := sdktest.Start(b, sdktest.Masters(3), sdktest.Agents(4, "cpus:2;mem:1024"))
		b.StopTimer()
		if c.Leader() == nil {
			b.Fatal("Start returned without a leader")
		}
		c.Close()
		b.StartTimer()
	}
}
