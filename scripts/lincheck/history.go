// Package lincheck records histories of operations on Agora's replicated
// registry, as clients saw them, and checks them for linearizability with
// porcupine (github.com/anishathalye/porcupine).
//
// The registry is modelled as a set of independent registers, one per key:
//
//   - a role ("role/<name>"): its weight, written by PUT /api/v1/roles/{role}
//     and read by GET /api/v1/roles;
//   - a framework ("fw/<id>"): present or absent, written by SUBSCRIBE and
//     TEARDOWN and read by GET /api/v1/frameworks.
//
// A read returns every key at once; [Check] splits it into one read per key.
// An operation whose outcome the client could not learn (a timeout, a 5xx
// from the leader) is [Unknown]: it may have taken effect at any time after
// it was called, so porcupine gets it with a return time after every other
// operation. An operation that surely did nothing ([Failed]) is left out, as
// are failed reads.
package lincheck

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"
)

// Kind names an operation.
type Kind string

// Operation kinds.
const (
	// RoleWrite sets a role's weight (PUT /api/v1/roles/{role}).
	RoleWrite Kind = "role_write"
	// RoleRead reads every role's weight (GET /api/v1/roles).
	RoleRead Kind = "role_read"
	// FrameworkAdd registers a framework (SUBSCRIBE).
	FrameworkAdd Kind = "fw_add"
	// FrameworkRemove removes a framework (TEARDOWN).
	FrameworkRemove Kind = "fw_remove"
	// FrameworkRead lists the registered frameworks (GET /api/v1/frameworks).
	FrameworkRead Kind = "fw_read"
)

// Outcome is what the client learnt of an operation.
type Outcome string

// Outcomes.
const (
	// OK: the write took effect, or the read returned Op's result.
	OK Outcome = "ok"
	// Failed: the operation surely had no effect (it is left out).
	Failed Outcome = "fail"
	// Unknown: a write that may or may not have taken effect.
	Unknown Outcome = "unknown"
)

// Op is one operation as a client saw it.
type Op struct {
	// Client identifies the client (one operation at a time per client).
	Client int  `json:"client"`
	Kind   Kind `json:"kind"`
	// Key is the role name or framework ID a write is about.
	Key string `json:"key,omitempty"`
	// Value is the weight a RoleWrite writes.
	Value float64 `json:"value,omitempty"`
	// Roles is what a RoleRead returned: role name → weight.
	Roles map[string]float64 `json:"roles,omitempty"`
	// Frameworks is what a FrameworkRead returned: the registered IDs.
	Frameworks []string `json:"frameworks,omitempty"`
	Outcome    Outcome  `json:"outcome"`
	// Call and Return are nanoseconds since the history started.
	Call   int64 `json:"call"`
	Return int64 `json:"return"`
	// Server is the master that answered (after redirects), if known.
	Server string `json:"server,omitempty"`
	// Err is the error the client got, if any.
	Err string `json:"err,omitempty"`
}

// Recorder collects operations from concurrent clients. The zero value is
// not usable; call [NewRecorder].
type Recorder struct {
	start time.Time
	mu    sync.Mutex
	ops   []Op
}

// NewRecorder starts a history now.
func NewRecorder() *Recorder { return &Recorder{start: time.Now()} }

// Now returns the monotonic time since the history started, in ns. Take it
// just before a call and just after its return.
func (r *Recorder) Now() int64 { return int64(time.Since(r.start)) }

// Add records a completed operation.
func (r *Recorder) Add(op Op) {
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
}

// Ops returns a copy of the history, ordered by call time.
func (r *Recorder) Ops() []Op {
	r.mu.Lock()
	out := append([]Op(nil), r.ops...)
	r.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].Call < out[j].Call })
	return out
}

// Save writes a history as JSON.
func Save(path string, ops []Op) error {
	b, err := json.MarshalIndent(ops, "", " ")
	if err != nil {
		return fmt.Errorf("lincheck: encode history: %w", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("lincheck: save history: %w", err)
	}
	return nil
}

// Load reads a history written by [Save].
func Load(path string) ([]Op, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("lincheck: load history: %w", err)
	}
	var ops []Op
	if err := json.Unmarshal(b, &ops); err != nil {
		return nil, fmt.Errorf("lincheck: decode history %s: %w", path, err)
	}
	return ops, nil
}
