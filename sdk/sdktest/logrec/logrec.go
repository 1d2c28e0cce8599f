// Package logrec is a slog.Handler for tests that wait for, or count, log
// messages instead of sleeping. It imports nothing of Agora's, so that
// the tests of any package may use it.
package logrec

import (
	"context"
	"log/slog"
	"strings"
	"sync"
)

// Recorder is a slog.Handler that keeps the messages logged, so that a
// test can wait for an event, or check that one did not happen, instead
// of sleeping: slog.New(&logrec.Recorder{}).
type Recorder struct {
	// Level is the least level kept; nil keeps every level.
	Level slog.Leveler

	mu   sync.Mutex
	msgs []string
}

// Enabled implements slog.Handler.
func (r *Recorder) Enabled(_ context.Context, l slog.Level) bool {
	return r.Level == nil || l >= r.Level.Level()
}

// Handle implements slog.Handler.
func (r *Recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Message)
	return nil
}

// WithAttrs implements slog.Handler (attributes are not kept).
func (r *Recorder) WithAttrs([]slog.Attr) slog.Handler { return r }

// WithGroup implements slog.Handler.
func (r *Recorder) WithGroup(string) slog.Handler { return r }

// Count returns how many messages contain substr, ignoring case.
func (r *Recorder) Count(substr string) int {
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

// Messages returns a copy of the messages kept so far.
func (r *Recorder) Messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}
