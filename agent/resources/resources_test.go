package resources

import (
	"reflect"
	"testing"

	"github.com/agora-cluster/agora/sdk/wire"
)

func TestParseOverride(t *testing.T) {
	for _, c := range []struct {
		in    string
		res   wire.Resources
		given Given
	}{
		{"", wire.Resources{}, Given{}},
		{"cpus:4;mem:8192;disk:20000", wire.Resources{CPUs: 4, MemMB: 8192, DiskMB: 20000}, Given{true, true, true}},
		{"cpus:0;mem:0", wire.Resources{}, Given{CPUs: true, MemMB: true}},
		{" disk : 0 ; ", wire.Resources{}, Given{DiskMB: true}},
		{"mem:512;ports:[31000-31010]", wire.Resources{MemMB: 512, Ports: wire.Ranges{{Begin: 31000, End: 31010}}}, Given{MemMB: true}},
	} {
		res, given, err := ParseOverride(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(res, c.res) || given != c.given {
			t.Errorf("%q: got %v %+v, want %v %+v", c.in, res, given, c.res, c.given)
		}
	}
	for _, bad := range []string{"cpus", "cpus:-1", "gpus:1", "cpus:1;cpus:2", "mem:x"} {
		if _, _, err := ParseOverride(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func TestMerge(t *testing.T) {
	detected := wire.Resources{CPUs: 8, MemMB: 16000, DiskMB: 100000}
	ports := wire.Ranges{{Begin: 31000, End: 32000}}
	for _, c := range []struct {
		name     string
		override wire.Resources
		given    Given
		want     wire.Resources
	}{
		{"nothing overridden", wire.Resources{}, Given{}, detected},
		{"non-zero values replace", wire.Resources{CPUs: 2, DiskMB: 10}, Given{CPUs: true, DiskMB: true}, wire.Resources{CPUs: 2, MemMB: 16000, DiskMB: 10}},
		{"non-zero without given (embedders)", wire.Resources{MemMB: 512}, Given{}, wire.Resources{CPUs: 8, MemMB: 512, DiskMB: 100000}},
		{"given zero is kept", wire.Resources{}, Given{CPUs: true, MemMB: true}, wire.Resources{DiskMB: 100000}},
		{"zero disk given", wire.Resources{CPUs: 1}, Given{CPUs: true, DiskMB: true}, wire.Resources{CPUs: 1, MemMB: 16000}},
		{"ports", wire.Resources{Ports: ports}, Given{}, wire.Resources{CPUs: 8, MemMB: 16000, DiskMB: 100000, Ports: ports}},
	} {
		if got := Merge(detected, c.override, c.given); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestComplete(t *testing.T) {
	for _, c := range []struct {
		override wire.Resources
		given    Given
		want     bool
	}{
		{wire.Resources{}, Given{}, false},
		{wire.Resources{CPUs: 1, MemMB: 1, DiskMB: 1}, Given{}, true},
		{wire.Resources{CPUs: 1, MemMB: 1}, Given{}, false},
		{wire.Resources{}, Given{true, true, true}, true},
		{wire.Resources{CPUs: 1}, Given{MemMB: true, DiskMB: true}, true},
	} {
		if got := Complete(c.override, c.given); got != c.want {
			t.Errorf("Complete(%v, %+v) = %v, want %v", c.override, c.given, got, c.want)
		}
	}
}

func TestParseAttributes(t *testing.T) {
	got, err := ParseAttributes(" rack : r1 ;zone:a;; empty: ")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"rack": "r1", "zone": "a", "empty": ""}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got, err := ParseAttributes(""); err != nil || len(got) != 0 {
		t.Fatalf("empty: %v %v", got, err)
	}
	if got, err := ParseAttributes("url:http://x:80"); err != nil || got["url"] != "http://x:80" {
		t.Fatalf("value with colons: %v %v", got, err)
	}
	for _, bad := range []string{"rack", ":r1", "rack:r1;rack:r2"} {
		if _, err := ParseAttributes(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func TestDetect(t *testing.T) {
	r, err := Detect(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if r.CPUs < 1 || r.MemMB < 1 || r.DiskMB < 1 {
		t.Fatalf("detected %v", r)
	}
}
