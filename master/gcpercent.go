package master

import (
	"log/slog"
	"runtime/debug"
	"sync"
	"time"
)

// masterGCPercent is the Go collector's GOGC for `agora master` unless the
// GOGC environment variable says otherwise. A master's heap is mostly
// long-lived state (tasks, agents, offers), and its process also holds
// the embedded NATS server's two goroutines per client connection, whose
// stacks grow with every message and shrink only when the collector runs.
// Collecting twice as often as Go's default 100 kept a master with 10,000
// agents and 100,000 tasks at 922–939 MiB instead of 1,020–1,061 MiB, for
// 0.15 instead of 0.13 cores (BENCHMARKS.md).
const masterGCPercent = 50

// takeoverGCPercent is the GOGC of `agora master` (unless GOGC is set)
// while it takes part in a takeover: from the moment it sees its leader go
// until takeoverGCWindow after the last time it did. Then every agent
// re-registers with the new leader, and the agents of the dead master's
// NATS server reconnect to the survivors' servers, all at once; at 50 the
// collector took a large share of a CPU that was short, and with 10,000
// agents on 2 cores, masters at GOGC=100 re-registered them all within
// 5 s in more runs than at 50 (BENCHMARKS.md).
const (
	takeoverGCPercent = 100
	takeoverGCWindow  = 10 * time.Second
)

// TakeoverGC raises the Go collector's GOGC while a master takes part in a
// takeover, and restores it afterwards. GOGC is per process: only a master
// alone in its process should set it.
type TakeoverGC struct {
	// Percent is the GOGC from when this master sees its leader go
	// (dead, cut off, replaced, or this master deposed) until Window
	// after the last such sight. 0 leaves the collector alone.
	Percent int
	// Window defaults to takeoverGCWindow.
	Window time.Duration
	// SetGCPercent sets GOGC and returns the previous value; nil means
	// debug.SetGCPercent. Tests inject a recorder.
	SetGCPercent func(int) int
}

// applyGCPercent sets masterGCPercent unless getenv("GOGC") is set, and
// returns the GOGC in force and the takeover setting that goes with it:
// none when GOGC is set, since the operator chose the collector's pace.
func applyGCPercent(getenv func(string) string) (int, TakeoverGC) {
	if getenv("GOGC") != "" {
		cur := debug.SetGCPercent(100)
		debug.SetGCPercent(cur)
		return cur, TakeoverGC{}
	}
	debug.SetGCPercent(masterGCPercent)
	return masterGCPercent, TakeoverGC{Percent: takeoverGCPercent}
}

// gcBoost applies a TakeoverGC: raise sets Percent and (re)starts the
// window; when the window ends without another raise, the GOGC found at
// the first raise is restored.
type gcBoost struct {
	cfg TakeoverGC
	log *slog.Logger

	mu     sync.Mutex
	gen    uint64 // bumped by every raise and by stop; a timer of an older gen does nothing
	timer  *time.Timer
	raised bool
	saved  int // GOGC before the raise
}

func newGCBoost(cfg TakeoverGC, log *slog.Logger) *gcBoost {
	if cfg.Window <= 0 {
		cfg.Window = takeoverGCWindow
	}
	if cfg.SetGCPercent == nil {
		cfg.SetGCPercent = debug.SetGCPercent
	}
	return &gcBoost{cfg: cfg, log: log}
}

// raise applies Percent for the next Window, and reports whether it was
// already in force.
func (b *gcBoost) raise() (already bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	already = b.raised
	if !b.raised {
		b.saved = b.cfg.SetGCPercent(b.cfg.Percent)
		b.raised = true
		b.log.Info("leader lost: the collector runs at a higher GOGC during the takeover", "gogc", b.cfg.Percent, "was", b.saved, "for_at_least", b.cfg.Window)
	}
	b.gen++
	gen := b.gen
	if b.timer != nil {
		b.timer.Stop()
	}
	b.timer = time.AfterFunc(b.cfg.Window, func() { b.lower(gen) })
	return already
}

// lower restores the saved GOGC if no raise came after gen's.
func (b *gcBoost) lower(gen uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if gen == b.gen {
		b.restore()
	}
}

// stop ends the window at once (the master is shutting down).
func (b *gcBoost) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gen++
	if b.timer != nil {
		b.timer.Stop()
	}
	b.restore()
}

func (b *gcBoost) restore() {
	if b.raised {
		b.cfg.SetGCPercent(b.saved)
		b.raised = false
		b.log.Info("the collector is back at its usual GOGC", "gogc", b.saved)
	}
}
