package dag

import (
	"errors"
	"reflect"
	"testing"
)

func TestOrder(t *testing.T) {
	g := Graph{
		"load":      {"transform", "extract"},
		"transform": {"extract"},
		"extract":   nil,
		"report":    {"load"},
		"other":     nil,
	}
	if err := Check(g); err != nil {
		t.Fatal(err)
	}
	order, err := Order(g)
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, j := range order {
		pos[j] = i
	}
	if len(order) != len(g) {
		t.Fatalf("order %v misses jobs", order)
	}
	for j, parents := range g {
		for _, p := range parents {
			if pos[p] > pos[j] {
				t.Errorf("%s comes before its parent %s in %v", j, p, order)
			}
		}
	}
	if got := Children(g, "extract"); !reflect.DeepEqual(got, []string{"load", "transform"}) {
		t.Errorf("Children(extract) = %v", got)
	}
}

func TestCycle(t *testing.T) {
	cases := []Graph{
		{"a": {"a"}},
		{"a": {"b"}, "b": {"a"}},
		{"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}},
	}
	for _, g := range cases {
		err := Check(g)
		var ce *CycleError
		if !errors.Is(err, ErrCycle) || !errors.As(err, &ce) {
			t.Fatalf("Check(%v) = %v, want a cycle", g, err)
		}
		if ce.Path[0] != ce.Path[len(ce.Path)-1] || len(ce.Path) < 2 {
			t.Errorf("cycle path %v does not close", ce.Path)
		}
		// Every step of the path is an edge of the graph.
		for i := 0; i+1 < len(ce.Path); i++ {
			found := false
			for _, p := range g[ce.Path[i]] {
				found = found || p == ce.Path[i+1]
			}
			if !found {
				t.Errorf("path %v: %s does not depend on %s", ce.Path, ce.Path[i], ce.Path[i+1])
			}
		}
	}
}

func TestUnknown(t *testing.T) {
	err := Check(Graph{"a": {"ghost"}})
	var ue *UnknownError
	if !errors.Is(err, ErrUnknown) || !errors.As(err, &ue) || ue.Parent != "ghost" {
		t.Fatalf("Check = %v", err)
	}
}
