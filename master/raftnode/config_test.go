package raftnode

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func TestConfigValidate(t *testing.T) {
	ok := Config{Name: "a", DataDir: "d", BindAddr: "127.0.0.1:7000", Peers: map[string]string{"a": "127.0.0.1:7000", "b": "127.0.0.1:7001"}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	for _, good := range []Config{
		{Name: "a", DataDir: "d", BindAddr: "127.0.0.1:0"},
		{Name: "a", DataDir: "d", BindAddr: "0.0.0.0:7000", AdvertiseAddr: "10.0.0.1:7000"},
		{Name: "a", DataDir: "d", BindAddr: ":7000", Peers: map[string]string{"a": "m1:7000"}},
	} {
		if err := good.Validate(); err != nil {
			t.Errorf("%+v refused: %v", good, err)
		}
	}
	for want, c := range map[string]Config{
		"name is required":           {DataDir: "d", BindAddr: "127.0.0.1:1"},
		"data dir is required":       {Name: "a", BindAddr: "127.0.0.1:1"},
		"bind address":               {Name: "a", DataDir: "d", BindAddr: "nope"},
		"do not include this node":   {Name: "a", DataDir: "d", BindAddr: "127.0.0.1:1", Peers: map[string]string{"b": "127.0.0.1:2"}},
		`peer "b"`:                   {Name: "a", DataDir: "d", BindAddr: "127.0.0.1:1", Peers: map[string]string{"a": "127.0.0.1:1", "b": "nope"}},
		"cannot be advertised":       {Name: "a", DataDir: "d", BindAddr: "0.0.0.0:7000"},
		"advertise address":          {Name: "a", DataDir: "d", BindAddr: "127.0.0.1:1", AdvertiseAddr: "127.0.0.1:0"},
		"negative election timeout":  {Name: "a", DataDir: "d", BindAddr: "127.0.0.1:1", ElectionTimeout: -time.Second},
		"peer with an empty name":    {Name: "a", DataDir: "d", BindAddr: "127.0.0.1:1", Peers: map[string]string{"a": "127.0.0.1:1", "": "127.0.0.1:2"}},
		"not host:port with a fixed": {Name: "a", DataDir: "d", BindAddr: "127.0.0.1:1", Peers: map[string]string{"a": "127.0.0.1:0"}},
		"has no fixed port":          {Name: "a", DataDir: "d", BindAddr: "127.0.0.1:0", Peers: map[string]string{"a": "127.0.0.1:7000"}},
		"only for a node alone":      {Name: "a", DataDir: "d", BindAddr: "127.0.0.1:0", AdvertiseAddr: "127.0.0.1:7000"},
	} {
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: err = %v, want it to mention %q", c, err, want)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{Name: "a", Peers: map[string]string{"a": "m1:7000"}}.withDefaults()
	if c.HeartbeatTimeout != DefaultHeartbeatTimeout || c.ElectionTimeout != DefaultElectionTimeout ||
		c.LeaderLeaseTimeout != DefaultLeaderLeaseTimeout || c.CommitTimeout != DefaultCommitTimeout ||
		c.ApplyTimeout != DefaultApplyTimeout || c.Logger == nil {
		t.Fatalf("defaults = %+v", c)
	}
	if c.AdvertiseAddr != "m1:7000" {
		t.Fatalf("AdvertiseAddr = %q, want this node's peer address", c.AdvertiseAddr)
	}
	// A defaulted lease follows a short heartbeat; an explicit one is kept
	// (and raft.ValidateConfig judges it).
	if c := (Config{HeartbeatTimeout: 100 * time.Millisecond}).withDefaults(); c.LeaderLeaseTimeout != 100*time.Millisecond {
		t.Fatalf("defaulted lease = %s, want capped at 100ms", c.LeaderLeaseTimeout)
	}
	if c := (Config{HeartbeatTimeout: 2 * time.Second}).withDefaults(); c.LeaderLeaseTimeout != time.Second {
		t.Fatalf("defaulted lease with a 2s heartbeat timeout = %s, want 1s (half)", c.LeaderLeaseTimeout)
	}
	if c := (Config{HeartbeatTimeout: 100 * time.Millisecond, LeaderLeaseTimeout: time.Second}).withDefaults(); c.LeaderLeaseTimeout != time.Second {
		t.Fatalf("explicit lease changed to %s", c.LeaderLeaseTimeout)
	}
	// New refuses what raft refuses.
	bad := Config{Name: "a", DataDir: t.TempDir(), BindAddr: "127.0.0.1:0", HeartbeatTimeout: 100 * time.Millisecond, LeaderLeaseTimeout: time.Second}
	if n, err := New(bad, nil); err == nil {
		_ = n.Shutdown()
		t.Fatal("New accepted a lease longer than the heartbeat")
	}
}

type recordHandler struct {
	level   slog.Level
	records []slog.Record
}

func (h *recordHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.records = append(h.records, r)
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

type stringer struct{}

func (stringer) String() string { return "as text" }

func TestHCLogBridge(t *testing.T) {
	h := &recordHandler{level: slog.LevelDebug}
	hl := newHCLogger(slog.New(h))
	hl.Info("entering leader state", "leader", stringer{}, "servers", hclog.Fmt("%d-%s", 1, "x"))
	hl.Warn("heartbeat timeout reached", "last-leader-id", "n2")
	hl.Named("raft-net").With("local", "x").Error("failed to accept", "error", errors.New("boom"))
	hl.Trace("dropped: below debug")
	hl.Log(hclog.Off, "dropped: off")
	hl.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Warn}).Print("from a std logger")
	type rec struct {
		level slog.Level
		msg   string
		attrs string
	}
	var got []rec
	for _, r := range h.records {
		var attrs []string
		r.Attrs(func(a slog.Attr) bool { attrs = append(attrs, a.String()); return true })
		got = append(got, rec{r.Level, r.Message, strings.Join(attrs, " ")})
	}
	want := []rec{
		{slog.LevelDebug, "entering leader state", "leader=as text servers=1-x"},
		{slog.LevelInfo, "heartbeat timeout reached", "last-leader-id=n2"},
		{slog.LevelError, "failed to accept", "error=boom"},
		{slog.LevelInfo, "from a std logger", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("records = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	var buf bytes.Buffer
	newHCLogger(slog.New(slog.NewTextHandler(&buf, nil))).Named("raft-net").With("local", "x").Warn("w", "n", 1)
	if line := buf.String(); !strings.Contains(line, "level=INFO msg=w module=raft-net local=x n=1") {
		t.Errorf("text line = %q", line)
	}
	if named := hl.Named("raft-net"); named.Name() != "raft-net" || hl.Named("a").Named("b").Name() != "a.b" {
		t.Errorf("names: %q, %q", named.Name(), hl.Named("a").Named("b").Name())
	}
	if args := hl.With("k", 1).With("j", 2).ImpliedArgs(); len(args) != 4 {
		t.Errorf("implied args = %v", args)
	}

	// Quiet by default: at slog's Info level, raft's info and debug lines
	// are not even formatted.
	quiet := &recordHandler{level: slog.LevelInfo}
	ql := newHCLogger(slog.New(quiet))
	if ql.IsDebug() || ql.IsInfo() || !ql.IsWarn() || !ql.IsError() {
		t.Fatal("quiet logger levels wrong")
	}
	ql.Info("chatter")
	ql.Warn("warning")
	if len(quiet.records) != 1 || quiet.records[0].Message != "warning" {
		t.Fatalf("quiet logger records = %+v", quiet.records)
	}
	ql.SetLevel(hclog.Error)
	ql.Warn("silenced")
	if len(quiet.records) != 1 || ql.GetLevel() != hclog.Error {
		t.Fatal("SetLevel(Error) did not silence warnings")
	}
}

func TestLeaderNotifier(t *testing.T) {
	var n leaderNotifier
	early := n.subscribe()
	idle := n.subscribe() // never read: must not block set
	select {
	case v := <-early:
		t.Fatalf("subscriber got %v before any change", v)
	default:
	}
	n.set(true)
	n.set(false)
	n.set(true)
	// Only the latest value is kept.
	if v := <-early; !v {
		t.Fatal("want the latest value, true")
	}
	select {
	case v := <-early:
		t.Fatalf("stale value %v delivered", v)
	default:
	}
	// A late subscriber to a leader gets true at once.
	if v := <-n.subscribe(); !v {
		t.Fatal("late subscriber got false")
	}
	n.set(false)
	if v := <-idle; v {
		t.Fatal("idle subscriber holds a stale true")
	}
	select {
	case v := <-n.subscribe():
		t.Fatalf("late subscriber to a follower got %v", v)
	default:
	}
}
