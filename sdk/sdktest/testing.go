package sdktest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// Start starts a cluster for a test with short timeouts, logs to t.Log,
// data in t.TempDir(), and a cleanup that stops it. It fails the test if
// the cluster cannot start or elect a leader within 10 s.
func Start(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	cfg := Config{Fast: true, Dir: t.TempDir(), Logger: TestLogger(t)}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("sdktest: %v", err)
	}
	t.Cleanup(c.Close)
	if _, err := c.WaitLeader(10 * time.Second); err != nil {
		t.Fatalf("sdktest: no leader elected: %v", err)
	}
	if err := c.WaitAgentsRegistered(10 * time.Second); err != nil {
		t.Fatalf("sdktest: agents did not register: %v", err)
	}
	return c
}

// TestLogger logs to t.Log at the level in AGORA_TEST_LOG ("debug",
// "info", "warn"; default warn), and nothing once the test has ended.
func TestLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	switch strings.ToLower(getenv("AGORA_TEST_LOG")) {
	case "debug":
		level = slog.LevelDebug
	case "info":
		level = slog.LevelInfo
	}
	w := &testWriter{t: t}
	t.Cleanup(w.close)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// Ctx returns a context for a test step that ends after d or with the test.
func Ctx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Eventually fails the test unless cond holds within timeout; msg says
// what was awaited.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	if err := WaitFor(timeout, cond); err != nil {
		t.Fatalf("waited %s for: %s", timeout, fmt.Sprintf(format, args...))
	}
}
