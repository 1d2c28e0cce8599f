package lincheck

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

const ms = int64(time.Millisecond)

func write(client int, role string, v float64, call, ret int64, out Outcome) Op {
	return Op{Client: client, Kind: RoleWrite, Key: role, Value: v, Call: call * ms, Return: ret * ms, Outcome: out, Server: "m1"}
}

func read(client int, roles map[string]float64, call, ret int64, server string) Op {
	return Op{Client: client, Kind: RoleRead, Roles: roles, Call: call * ms, Return: ret * ms, Outcome: OK, Server: server}
}

func TestSequentialRoleHistoryIsLinearizable(t *testing.T) {
	ops := []Op{
		read(0, map[string]float64{}, 0, 1, "m1"),
		write(0, "a", 2, 2, 3, OK),
		read(1, map[string]float64{"a": 2}, 4, 5, "m2"),
		write(1, "a", 3, 6, 7, OK),
		write(0, "b", 5, 6, 8, OK),
		read(0, map[string]float64{"a": 3, "b": 5}, 9, 10, "m1"),
	}
	res := Check(ops, Options{})
	if !res.OK() {
		t.Fatalf("want Ok, got %s", res)
	}
	if len(res.Keys) != 2 || res.Checked != 3+2*3 {
		t.Fatalf("want 2 keys and 9 checked ops (3 writes, 3 reads per key), got %+v", res)
	}
	if res.ServedBy["m1"] != 5 || res.ServedBy["m2"] != 1 {
		t.Fatalf("served by: %v", res.ServedBy)
	}
}

func TestStaleReadIsIllegal(t *testing.T) {
	// The write of 3 completed before the read began, yet the read (from a
	// deposed leader, say) returns the older 2.
	ops := []Op{
		write(0, "a", 2, 0, 1, OK),
		write(0, "a", 3, 2, 3, OK),
		read(1, map[string]float64{"a": 2}, 5, 6, "m3"),
	}
	dir := t.TempDir()
	res := Check(ops, Options{VisualizeDir: dir})
	if res.Verdict != porcupine.Illegal {
		t.Fatalf("want Illegal, got %s", res)
	}
	k := res.Keys[0]
	if k.Key != "role/a" || !strings.Contains(k.Explanation, `read() → 2`) || !strings.Contains(k.Explanation, `"m3"`) {
		t.Fatalf("explanation does not name the stale read: %+v", k)
	}
	if k.Visualization == "" || filepath.Dir(k.Visualization) != dir {
		t.Fatalf("no visualization written: %+v", k)
	}
}

func TestConcurrentReadMaySeeEitherValue(t *testing.T) {
	for _, seen := range []float64{2, 3} {
		ops := []Op{
			write(0, "a", 2, 0, 1, OK),
			write(0, "a", 3, 2, 10, OK),
			read(1, map[string]float64{"a": seen}, 3, 4, "m1"),
		}
		if res := Check(ops, Options{}); !res.OK() {
			t.Fatalf("read of %g during the write: want Ok, got %s", seen, res)
		}
	}
}

func TestUnknownWriteMayApplyLateOrNever(t *testing.T) {
	base := []Op{
		write(0, "a", 2, 0, 1, OK),
		write(0, "a", 3, 2, 4, Unknown), // timed out
	}
	// Never applied, then applied later: both linearizable.
	for _, reads := range [][]float64{{2, 2}, {2, 3}, {3, 3}} {
		ops := append([]Op(nil), base...)
		ops = append(ops, read(1, map[string]float64{"a": reads[0]}, 10, 11, "m1"), read(1, map[string]float64{"a": reads[1]}, 20, 21, "m1"))
		res := Check(ops, Options{})
		if !res.OK() {
			t.Fatalf("reads %v: want Ok, got %s", reads, res)
		}
		if res.UnknownWrites != 1 {
			t.Fatalf("want 1 unknown write, got %d", res.UnknownWrites)
		}
	}
	// Once seen, it cannot be undone.
	ops := append(append([]Op(nil), base...), read(1, map[string]float64{"a": 3}, 10, 11, "m1"), read(1, map[string]float64{"a": 2}, 20, 21, "m1"))
	if res := Check(ops, Options{}); res.Verdict != porcupine.Illegal {
		t.Fatalf("value went back from 3 to 2: want Illegal, got %s", res)
	}
}

func TestFailedOpsAreLeftOut(t *testing.T) {
	ops := []Op{
		write(0, "a", 2, 0, 1, OK),
		write(0, "a", 9, 2, 3, Failed),
		{Client: 1, Kind: RoleRead, Call: 4 * ms, Return: 5 * ms, Outcome: Failed, Err: "timeout"},
		read(1, map[string]float64{"a": 2}, 6, 7, "m1"),
	}
	res := Check(ops, Options{})
	if !res.OK() || res.FailedOps != 2 || res.Checked != 2 {
		t.Fatalf("want Ok with 2 failed ops left out and 2 checked, got %s", res)
	}
	// A read of a value only a failed write wrote is illegal.
	ops = append(ops, read(1, map[string]float64{"a": 9}, 8, 9, "m1"))
	if res := Check(ops, Options{}); res.Verdict != porcupine.Illegal {
		t.Fatalf("read of a failed write's value: want Illegal, got %s", res)
	}
}

func TestFrameworkRegisters(t *testing.T) {
	fw := func(kind Kind, id string, call, ret int64, out Outcome) Op {
		return Op{Kind: kind, Key: id, Call: call * ms, Return: ret * ms, Outcome: out}
	}
	fread := func(ids []string, call, ret int64) Op {
		return Op{Client: 1, Kind: FrameworkRead, Frameworks: ids, Call: call * ms, Return: ret * ms, Outcome: OK}
	}
	ops := []Op{
		fread(nil, 0, 1),
		fw(FrameworkAdd, "p1", 2, 3, OK),
		fread([]string{"p1", "other"}, 4, 5),
		fw(FrameworkRemove, "p1", 6, 7, OK),
		fread([]string{"other"}, 8, 9),
	}
	res := Check(ops, Options{})
	if !res.OK() || len(res.Keys) != 1 || res.Keys[0].Key != "fw/p1" || res.Keys[0].Reads != 3 {
		t.Fatalf("want Ok over fw/p1 with 3 reads, got %s %+v", res, res.Keys)
	}
	// A framework seen after its teardown completed: illegal.
	bad := append(append([]Op(nil), ops...), fread([]string{"p1"}, 10, 11))
	if res := Check(bad, Options{}); res.Verdict != porcupine.Illegal {
		t.Fatalf("framework present after teardown: want Illegal, got %s", res)
	}
	// The same read far outside the window is not checked.
	far := append(append([]Op(nil), ops...), fread([]string{"p1"}, 60_000, 60_001))
	if res := Check(far, Options{ReadWindow: time.Second}); !res.OK() || res.Keys[0].Reads != 3 {
		t.Fatalf("read outside the window: want it left out, got %s %+v", res, res.Keys)
	}
}

func TestRecorderAndSaveLoad(t *testing.T) {
	r := NewRecorder()
	a := r.Now()
	r.Add(Op{Kind: RoleWrite, Key: "a", Value: 2, Call: a + 10, Return: a + 20, Outcome: OK})
	r.Add(Op{Kind: RoleRead, Roles: map[string]float64{"a": 2}, Call: a, Return: a + 30, Outcome: OK})
	ops := r.Ops()
	if len(ops) != 2 || ops[0].Kind != RoleRead {
		t.Fatalf("want 2 ops ordered by call, got %+v", ops)
	}
	path := filepath.Join(t.TempDir(), "h.json")
	if err := Save(path, ops); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Value != 2 || got[0].Roles["a"] != 2 {
		t.Fatalf("round trip: %+v", got)
	}
	if res := Check(got, Options{}); !res.OK() {
		t.Fatalf("want Ok, got %s", res)
	}
}

func TestStalenessAllowance(t *testing.T) {
	// The framework was added (returned at 10 ms); a read 5 ms later, served
	// from a cache refreshed every 100 ms, still says absent.
	ops := []Op{
		{Kind: FrameworkAdd, Key: "p", Call: 0, Return: 10 * ms, Outcome: OK},
		{Client: 1, Kind: FrameworkRead, Frameworks: []string{}, Call: 15 * ms, Return: 16 * ms, Outcome: OK},
	}
	if res := Check(ops, Options{}); res.Verdict != porcupine.Illegal {
		t.Fatalf("strict: want Illegal, got %s", res)
	}
	if res := Check(ops, Options{Staleness: map[Kind]time.Duration{FrameworkRead: 100 * time.Millisecond}}); !res.OK() {
		t.Fatalf("with 100 ms staleness allowed: want Ok, got %s", res)
	}
	// Older than the allowance is still illegal.
	ops[1].Call, ops[1].Return = 200*ms, 201*ms
	if res := Check(ops, Options{Staleness: map[Kind]time.Duration{FrameworkRead: 100 * time.Millisecond}}); res.Verdict != porcupine.Illegal {
		t.Fatalf("190 ms stale with 100 ms allowed: want Illegal, got %s", res)
	}
}
