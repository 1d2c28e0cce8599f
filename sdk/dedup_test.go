package sdk

import (
	"strconv"
	"testing"
)

func TestUUIDSet(t *testing.T) {
	var s uuidSet
	if !s.add("a") || s.add("a") {
		t.Fatal("duplicate not detected")
	}
	for i := 0; i < uuidSetSize; i++ {
		s.add(strconv.Itoa(i))
	}
	if !s.add("a") {
		t.Fatal("the set is not bounded: the oldest entry was kept")
	}
	if len(s.m) != uuidSetSize {
		t.Fatalf("holds %d, want %d", len(s.m), uuidSetSize)
	}
}
