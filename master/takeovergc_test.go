package master_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/agora-cluster/agora/master"
	"github.com/agora-cluster/agora/sdk/sdktest"
)

// TestTakeoverGC kills the leader of three masters configured with a
// TakeoverGC: both survivors raise GOGC when they see it go and lower it
// once the window has passed, once each (a first sight of
// the first leader raised nothing).
func TestTakeoverGC(t *testing.T) {
	var mu sync.Mutex
	set := map[string][]int{}
	calls := func(name string) []int {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(set[name])
	}
	c := sdktest.Start(t, sdktest.Masters(3), sdktest.WithMasterConfig(func(cfg *master.Config) {
		name, cur := cfg.Name, 50
		cfg.TakeoverGC = master.TakeoverGC{Percent: 100, Window: 300 * time.Millisecond, SetGCPercent: func(p int) int {
			mu.Lock()
			defer mu.Unlock()
			set[name] = append(set[name], p)
			prev := cur
			cur = p
			return prev
		}}
	}))
	old, err := c.WaitLeader(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var survivors []string
	for _, m := range c.Masters() {
		if m != old {
			survivors = append(survivors, m.Name())
		}
	}

	c.KillLeader()
	if _, err := c.WaitLeader(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	for _, name := range survivors {
		if err := sdktest.WaitFor(10*time.Second, func() bool { return slices.Equal(calls(name), []int{100, 50}) }); err != nil {
			t.Fatalf("%s set GOGC %v after its leader was killed, want [100 50] (raised, then lowered after the window)", name, calls(name))
		}
	}
	if got := calls(old.Name()); len(got) > 0 && len(got)%2 != 0 {
		t.Fatalf("the killed leader %s set GOGC %v and left it raised", old.Name(), got)
	}
}
