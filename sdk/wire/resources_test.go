package wire

import (
	"math/rand"
	"testing"
)

func TestParseResources(t *testing.T) {
	r, err := ParseResources("cpus:4; mem:8192;disk:20000;ports:[31000-31009,31005-31020]")
	if err != nil {
		t.Fatal(err)
	}
	want := Resources{CPUs: 4, MemMB: 8192, DiskMB: 20000, Ports: Ranges{{31000, 31020}}}
	if !r.Equal(want) || r.Ports.Count() != 21 {
		t.Fatalf("got %s", r)
	}
	if r.String() != "cpus:4;mem:8192;disk:20000;ports:[31000-31020]" {
		t.Fatal(r.String())
	}
	for _, bad := range []string{"cpus", "cpus:-1", "cpus:x", "gpus:1", "cpus:1;cpus:2", "ports:[5-3]", "ports:[1-70000]", "mem:NaN", "mem:Inf"} {
		if _, err := ParseResources(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestResourceArithmeticDoesNotDrift(t *testing.T) {
	total := Resources{CPUs: 24, MemMB: 4096}
	r := total
	task := Resources{CPUs: 0.1, MemMB: 0.3}
	for i := 0; i < 240; i++ {
		if !r.Contains(task) {
			t.Fatalf("step %d: %s does not contain %s", i, r, task)
		}
		r = r.Sub(task)
	}
	if r.CPUs != 0 {
		t.Fatalf("24 - 240*0.1 = %v", r.CPUs)
	}
	for i := 0; i < 240; i++ {
		r = r.Add(task)
	}
	if !r.Equal(total) {
		t.Fatalf("round trip = %s", r)
	}
}

func TestRanges(t *testing.T) {
	rs := Ranges{{10, 20}, {30, 40}}
	if got := rs.Minus(Ranges{{15, 32}}); got.String() != "[10-14,33-40]" {
		t.Fatal(got)
	}
	if !rs.Contains(Ranges{{12, 13}, {40, 40}}) || rs.Contains(Ranges{{20, 30}}) {
		t.Fatal("Contains")
	}
	take, err := rs.Take(13)
	if err != nil || take.String() != "[10-20,30-31]" {
		t.Fatal(take, err)
	}
	if _, err := rs.Take(100); err == nil {
		t.Fatal("took more ports than there are")
	}
	if got := (Ranges{{1, 2}}).Union(Ranges{{3, 5}}); got.String() != "[1-5]" {
		t.Fatal(got)
	}
}

// TestRangesProperty checks Minus/Union/Contains against a set model.
func TestRangesProperty(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	gen := func() Ranges {
		var rs Ranges
		for i := 0; i < rng.Intn(4); i++ {
			b := uint64(rng.Intn(60))
			rs = append(rs, Range{b, b + uint64(rng.Intn(10))})
		}
		return rs
	}
	set := func(rs Ranges) map[uint64]bool {
		m := map[uint64]bool{}
		for _, p := range rs.List() {
			m[p] = true
		}
		return m
	}
	for i := 0; i < 2000; i++ {
		a, b := gen(), gen()
		sa, sb := set(a), set(b)
		diff := set(a.Minus(b))
		for p := uint64(0); p < 80; p++ {
			if diff[p] != (sa[p] && !sb[p]) {
				t.Fatalf("%s minus %s wrong at %d", a, b, p)
			}
		}
		un := a.Union(b)
		if !un.Contains(a) || !un.Contains(b) || uint64(len(set(un))) != un.Count() {
			t.Fatalf("%s union %s = %s", a, b, un)
		}
	}
}
