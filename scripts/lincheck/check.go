package lincheck

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// Options tune [Check].
type Options struct {
	// Timeout bounds the search for one key (default 30 s); a key whose
	// search times out is reported with verdict Unknown.
	Timeout time.Duration
	// ReadWindow, if positive, keeps only the reads of a key that overlap
	// the span of its writes widened by ReadWindow on both sides. Reads
	// further away are not checked, which bounds the work when there are
	// many short-lived keys (frameworks) and many reads.
	ReadWindow time.Duration
	// VisualizeDir, if set, receives a porcupine HTML visualization of
	// every key that is not linearizable.
	VisualizeDir string
	// Staleness allows reads of a kind to reflect the registry as it was
	// up to that long before they were called (a server that serves such
	// reads from a cache refreshed that often): their call time is moved
	// back by it. Zero (the default) checks strict linearizability.
	Staleness map[Kind]time.Duration
}

// KeyResult is the verdict on one key.
type KeyResult struct {
	Key     string                `json:"key"`
	Verdict porcupine.CheckResult `json:"verdict"`
	Writes  int                   `json:"writes"`
	Reads   int                   `json:"reads"`
	Unknown int                   `json:"unknown_writes"`
	// Explanation names the first operation that no linearization could
	// place, for a key that is not linearizable.
	Explanation   string `json:"explanation,omitempty"`
	Visualization string `json:"visualization,omitempty"`
}

// Result is the verdict on a history.
type Result struct {
	// Verdict is Illegal if any key is, else Unknown if any key's search
	// timed out, else Ok.
	Verdict porcupine.CheckResult `json:"verdict"`
	Keys    []KeyResult           `json:"keys"`
	// Operations in the history, by what happened to them.
	Ops           int `json:"ops"`
	Checked       int `json:"checked_ops"`
	UnknownWrites int `json:"unknown_writes"`
	FailedOps     int `json:"failed_ops"`
	// ServedBy counts the successful operations by the master that answered.
	ServedBy map[string]int `json:"served_by,omitempty"`
}

// OK reports whether the history is linearizable (and was fully checked).
func (r Result) OK() bool { return r.Verdict == porcupine.Ok }

// String summarizes the result in one line per failing key.
func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "linearizability: %s (%d keys, %d ops: %d checked, %d writes of unknown outcome, %d failed and left out)",
		r.Verdict, len(r.Keys), r.Ops, r.Checked, r.UnknownWrites, r.FailedOps)
	for _, k := range r.Keys {
		if k.Verdict != porcupine.Ok {
			fmt.Fprintf(&b, "\n  %s: %s (%d writes, %d reads): %s", k.Key, k.Verdict, k.Writes, k.Reads, k.Explanation)
		}
	}
	return b.String()
}

// register is the state of one key: Set is false while the role was never
// written or the framework is not registered.
type register struct {
	Set bool
	V   float64
}

func (r register) String() string {
	if !r.Set {
		return "absent"
	}
	return fmt.Sprintf("%g", r.V)
}

// input is what a porcupine operation does: a write of Value, or a read.
type input struct {
	Write bool
	Value register
}

// model is a register per key (the history is split by key before).
var model = porcupine.Model{
	Init: func() any { return register{} },
	Step: func(state, in, out any) (bool, any) {
		st, i := state.(register), in.(input)
		if i.Write {
			return true, i.Value
		}
		return out.(register) == st, st
	},
	DescribeOperation: func(in, out any) string {
		i := in.(input)
		if i.Write {
			return "write(" + i.Value.String() + ")"
		}
		return "read() → " + out.(register).String()
	},
	DescribeState: func(state any) string { return state.(register).String() },
}

// keyOf returns the register key a write is about.
func keyOf(op Op) string {
	switch op.Kind {
	case RoleWrite:
		return "role/" + op.Key
	case FrameworkAdd, FrameworkRemove:
		return "fw/" + op.Key
	}
	return ""
}

type keyHistory struct {
	writes []Op
	first  int64 // earliest write call
	last   int64 // latest write return (math.MaxInt64 with an unknown write)
}

// Check checks a history for linearizability, key by key.
func Check(ops []Op, opts Options) Result {
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	res := Result{Verdict: porcupine.Ok, Ops: len(ops), ServedBy: map[string]int{}}
	keys := map[string]*keyHistory{}
	var maxTime int64
	for _, op := range ops {
		maxTime = max(maxTime, op.Return, op.Call)
		if op.Outcome == Failed {
			res.FailedOps++
			continue
		}
		if op.Server != "" {
			res.ServedBy[op.Server]++
		}
		k := keyOf(op)
		if k == "" {
			continue
		}
		kh := keys[k]
		if kh == nil {
			kh = &keyHistory{first: op.Call, last: op.Return}
			keys[k] = kh
		}
		kh.writes = append(kh.writes, op)
		kh.first = min(kh.first, op.Call)
		if op.Outcome == Unknown {
			res.UnknownWrites++
			kh.last = math.MaxInt64
		} else {
			kh.last = max(kh.last, op.Return)
		}
	}
	// An unknown write may take effect after everything that was seen.
	never := maxTime + int64(time.Hour)
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		kr := checkKey(k, keys[k], ops, never, opts)
		res.Checked += kr.Writes + kr.Reads
		res.Keys = append(res.Keys, kr)
		switch {
		case kr.Verdict == porcupine.Illegal:
			res.Verdict = porcupine.Illegal
		case kr.Verdict == porcupine.Unknown && res.Verdict == porcupine.Ok:
			res.Verdict = porcupine.Unknown
		}
	}
	return res
}

func checkKey(k string, kh *keyHistory, ops []Op, never int64, opts Options) KeyResult {
	kr := KeyResult{Key: k}
	var hist []porcupine.Operation
	for _, w := range kh.writes {
		in := input{Write: true, Value: register{Set: true, V: w.Value}}
		if w.Kind == FrameworkRemove {
			in.Value = register{}
		} else if w.Kind == FrameworkAdd {
			in.Value = register{Set: true, V: 1}
		}
		ret := w.Return
		if w.Outcome == Unknown {
			ret = never
			kr.Unknown++
		}
		hist = append(hist, porcupine.Operation{ClientId: w.Client, Input: in, Call: w.Call, Output: register{}, Return: ret, Metadata: w.Server})
		kr.Writes++
	}
	lo, hi := kh.first, kh.last
	if opts.ReadWindow > 0 {
		lo -= int64(opts.ReadWindow)
		if hi != math.MaxInt64 {
			hi += int64(opts.ReadWindow)
		}
	} else {
		lo, hi = math.MinInt64, math.MaxInt64
	}
	for _, op := range ops {
		if op.Outcome != OK || op.Return < lo || op.Call > hi {
			continue
		}
		var out register
		switch {
		case op.Kind == RoleRead && strings.HasPrefix(k, "role/"):
			if w, ok := op.Roles[strings.TrimPrefix(k, "role/")]; ok {
				out = register{Set: true, V: w}
			}
		case op.Kind == FrameworkRead && strings.HasPrefix(k, "fw/"):
			id := strings.TrimPrefix(k, "fw/")
			for _, f := range op.Frameworks {
				if f == id {
					out = register{Set: true, V: 1}
					break
				}
			}
		default:
			continue
		}
		hist = append(hist, porcupine.Operation{ClientId: op.Client, Input: input{}, Call: op.Call - int64(opts.Staleness[op.Kind]), Output: out, Return: op.Return, Metadata: op.Server})
		kr.Reads++
	}
	kr.Verdict = porcupine.CheckOperationsTimeout(model, hist, opts.Timeout)
	if kr.Verdict != porcupine.Illegal {
		return kr
	}
	verdict, info := porcupine.CheckOperationsVerbose(model, hist, opts.Timeout)
	if verdict == porcupine.Illegal {
		kr.Explanation = explain(hist, info, never)
		if opts.VisualizeDir != "" {
			path := filepath.Join(opts.VisualizeDir, "lin-"+strings.ReplaceAll(k, "/", "_")+".html")
			if err := os.MkdirAll(opts.VisualizeDir, 0o755); err == nil && porcupine.VisualizePath(model, info, path) == nil {
				kr.Visualization = path
			}
		}
	}
	return kr
}

// explain names the earliest-called operation outside the longest partial
// linearization, and the state that linearization ends in.
func explain(hist []porcupine.Operation, info porcupine.LinearizationInfo, never int64) string {
	var longest []int
	for _, part := range info.PartialLinearizations() {
		for _, l := range part {
			if len(l) > len(longest) {
				longest = l
			}
		}
	}
	in := make(map[int]bool, len(longest))
	st := register{}
	for _, id := range longest {
		in[id] = true
		if i := hist[id].Input.(input); i.Write {
			st = i.Value
		}
	}
	first := -1
	for id := range hist {
		if !in[id] && (first < 0 || hist[id].Call < hist[first].Call) {
			first = id
		}
	}
	if first < 0 {
		return "no operation left out (search incomplete)"
	}
	op := hist[first]
	server, _ := op.Metadata.(string)
	return fmt.Sprintf("%d of %d ops linearized, ending in state %s; next, client %d's %s (called at %s, returned at %s, answered by %q) cannot be placed",
		len(longest), len(hist), st, op.ClientId, model.DescribeOperation(op.Input, op.Output),
		time.Duration(op.Call), describeReturn(op.Return, never), server)
}

func describeReturn(t, never int64) string {
	if t >= never {
		return "never (unknown outcome)"
	}
	return time.Duration(t).String()
}
