package master

import (
	"testing"
	"time"
)

func TestHeartbeatScalesWithAgents(t *testing.T) {
	cfg := DefaultConfig() // 1 s, unreachable after 5 s, 2,000 heartbeats/s
	for _, c := range []struct {
		agents        int
		every, silent time.Duration
	}{
		{0, time.Second, 5 * time.Second},
		{1000, time.Second, 5 * time.Second},
		{2000, time.Second, 5 * time.Second},
		{5000, 2500 * time.Millisecond, 12500 * time.Millisecond},
		{10000, 5 * time.Second, 25 * time.Second},
	} {
		every := heartbeatEvery(&cfg, c.agents)
		if every != c.every {
			t.Errorf("%d agents: heartbeat every %s, want %s", c.agents, every, c.every)
		}
		if s := silenceAllowed(&cfg, every); s != c.silent {
			t.Errorf("%d agents: unreachable after %s, want %s", c.agents, s, c.silent)
		}
	}
	for n, want := range map[int]time.Duration{10: time.Millisecond, 1000: 100 * time.Millisecond, 10000: time.Second} {
		if got := registerSpread(&cfg, n); got != want {
			t.Errorf("%d agents: registrations spread over %s, want %s", n, got, want)
		}
	}
	for n, want := range map[int]time.Duration{10: time.Second, 2000: time.Second, 5000: 2500 * time.Millisecond, 10000: 5 * time.Second} {
		if got := announceEvery(&cfg, heartbeatEvery(&cfg, n)); got != want {
			t.Errorf("%d agents: leader announced every %s, want %s", n, got, want)
		}
	}
	cfg.MaxAgentHeartbeats = 0
	if every := heartbeatEvery(&cfg, 100000); every != time.Second {
		t.Errorf("unbounded: every %s, want the configured 1s", every)
	}
	if got := registerSpread(&cfg, 100000); got != 0 {
		t.Errorf("unbounded: registrations spread over %s, want 0", got)
	}
	cfg.MaxAgentHeartbeats = -1
	cfg.Name, cfg.DataDir, cfg.RaftAddr = "m1", t.TempDir(), "127.0.0.1:0"
	if err := cfg.Validate(); err == nil {
		t.Error("negative max agent heartbeats accepted")
	}
}
