package chaos

import (
	"fmt"
	"math/rand"
	"time"
)

// FaultKind names a fault.
type FaultKind string

// The faults the harness injects.
const (
	// KillLeader SIGKILLs the leading master and restarts it (same data
	// dir) after the fault's duration.
	KillLeader FaultKind = "kill-leader"
	// PauseLeader SIGSTOPs the leader and SIGCONTs it after the duration.
	PauseLeader FaultKind = "pause-leader"
	// PartitionLeader cuts the leader off from the other masters and from
	// the agents (blackhole routes both ways); clients still reach it, so
	// a deposed leader's answers are checked.
	PartitionLeader FaultKind = "partition-leader"
	// IsolateLeader takes the leader's link down: nobody reaches it.
	IsolateLeader FaultKind = "isolate-leader"
	// PartitionAgent cuts one agent off from every master.
	PartitionAgent FaultKind = "partition-agent"
	// RestartAgent SIGKILLs one agent (its tasks keep running) and
	// restarts it on the same work dir after the duration.
	RestartAgent FaultKind = "restart-agent"
	// KillFollower SIGKILLs a master that does not lead and restarts it.
	KillFollower FaultKind = "kill-follower"
)

// AllFaults lists every fault kind, in a fixed order.
var AllFaults = []FaultKind{KillLeader, PauseLeader, PartitionLeader, IsolateLeader, PartitionAgent, RestartAgent, KillFollower}

// durations bounds each fault's length.
var durations = map[FaultKind][2]time.Duration{
	KillLeader:      {2 * time.Second, 8 * time.Second},
	PauseLeader:     {2 * time.Second, 9 * time.Second},
	PartitionLeader: {4 * time.Second, 12 * time.Second},
	IsolateLeader:   {3 * time.Second, 10 * time.Second},
	PartitionAgent:  {3 * time.Second, 12 * time.Second},
	RestartAgent:    {1 * time.Second, 6 * time.Second},
	KillFollower:    {1 * time.Second, 5 * time.Second},
}

// Fault is one planned fault.
type Fault struct {
	Seq  int       `json:"seq"`
	Kind FaultKind `json:"kind"`
	// Pick chooses among the candidates (agents, followers) by index
	// modulo their number.
	Pick int `json:"pick"`
	// For is how long the fault lasts; After is the quiet time once the
	// cluster has recovered.
	For   time.Duration `json:"for"`
	After time.Duration `json:"after"`
}

func (f Fault) String() string {
	return fmt.Sprintf("#%d %s for %s", f.Seq, f.Kind, f.For.Round(100*time.Millisecond))
}

// Schedule yields faults from a seed: every len(AllFaults) faults each
// kind occurs once, in a shuffled order, with random durations. The same
// seed always yields the same sequence.
type Schedule struct {
	rng   *rand.Rand
	round []FaultKind
	seq   int
}

// NewSchedule starts a schedule.
func NewSchedule(seed int64) *Schedule {
	return &Schedule{rng: rand.New(rand.NewSource(seed))}
}

// Next returns the next fault.
func (s *Schedule) Next() Fault {
	if len(s.round) == 0 {
		s.round = append([]FaultKind(nil), AllFaults...)
		s.rng.Shuffle(len(s.round), func(i, j int) { s.round[i], s.round[j] = s.round[j], s.round[i] })
	}
	k := s.round[0]
	s.round = s.round[1:]
	s.seq++
	d := durations[k]
	return Fault{
		Seq:   s.seq,
		Kind:  k,
		Pick:  s.rng.Intn(1 << 16),
		For:   d[0] + time.Duration(s.rng.Int63n(int64(d[1]-d[0]))),
		After: time.Second + time.Duration(s.rng.Int63n(int64(4*time.Second))),
	}
}

// Event is a fault as it happened.
type Event struct {
	Fault
	// At is when it was injected. Start is the same relative to the
	// run's start; Healed when it was undone; Recovered when the cluster
	// was whole again (a leader, every agent active), or zero if it did
	// not recover in time.
	At        time.Time     `json:"at"`
	Start     time.Duration `json:"start"`
	Healed    time.Duration `json:"healed"`
	Recovered time.Duration `json:"recovered"`
	// Target is the node it hit; Leader the leader (and term) before.
	Target string `json:"target"`
	Leader string `json:"leader"`
	Term   uint64 `json:"term"`
	Err    string `json:"err,omitempty"`
}
