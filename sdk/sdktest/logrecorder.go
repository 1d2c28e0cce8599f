package sdktest

import (
	"context"
	"log/slog"
	"strings"
	"sync"
)

// LogRecorder is a slog.Handler that keeps the messages logged at Level
// or above, so that a test can wait for an event, or check that one did
// not happen, instead of sleeping: slog.New(&LogRecorder{}).
type LogRecorder struct {
	Level slog.Level

	mu   sync.Mutex
	msgs []string
}

// Enabled implements slog.Handler.
func (r *LogRecorder) Enabled(_ context.Context, l slog.Level) bool { return l >= r.Level }

// Handle implements slog.Handler.
func (r *LogRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Message)
	return nil
}

// WithAttrs implements slog.Handler (attributes are not kept).
func (r *LogRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }

// WithGroup implements slog.Handler.
func (r *LogRecorder) WithGroup(string) slog.Handler { return r }

// Count returns how many messages contain substr, ignoring case.
func (r *LogRecorder) Count(substr string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if strings.Contains(strings.ToLower(m), strings.ToLower(substr)) {
			n++
		}
	}
	return n
}
