package raftnode

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"slices"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// newHCLogger returns an hclog.Logger for raft that logs through l.
// Levels are shifted down one step, since raft is chatty: raft's trace,
// debug and info lines go out at slog.LevelDebug, its warnings (routine:
// an election starting, a peer unreachable) at slog.LevelInfo, and its
// errors at slog.LevelError. Values that are errors or fmt.Stringers are
// logged as their text.
func newHCLogger(l *slog.Logger) hclog.Logger {
	lvl := new(atomic.Int32)
	lvl.Store(int32(hclog.Trace))
	return &hcLogger{base: l, l: l, level: lvl}
}

// hcLogger implements hclog.Logger on top of a *slog.Logger.
type hcLogger struct {
	base    *slog.Logger  // without name or implied args
	l       *slog.Logger  // base with the module name and implied args
	name    string        // hclog's dotted name; "raft" is left out of records
	implied []any         // hclog's implied args, as given
	level   *atomic.Int32 // an hclog.Level; shared by derived loggers, as in hclog
}

var _ hclog.Logger = (*hcLogger)(nil)

// slogLevel maps an hclog level to the slog level it is logged at.
func slogLevel(l hclog.Level) slog.Level {
	switch {
	case l >= hclog.Error:
		return slog.LevelError
	case l == hclog.Warn:
		return slog.LevelInfo
	case l == hclog.Trace:
		return slog.LevelDebug - 4
	}
	return slog.LevelDebug
}

func (h *hcLogger) enabled(l hclog.Level) bool {
	if l < hclog.Level(h.level.Load()) {
		return false
	}
	return h.l.Enabled(context.Background(), slogLevel(l))
}

// Log implements hclog.Logger.
func (h *hcLogger) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off || !h.enabled(level) {
		return
	}
	h.l.Log(context.Background(), slogLevel(level), msg, textValues(args)...)
}

// Trace implements hclog.Logger.
func (h *hcLogger) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }

// Debug implements hclog.Logger.
func (h *hcLogger) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }

// Info implements hclog.Logger.
func (h *hcLogger) Info(msg string, args ...any) { h.Log(hclog.Info, msg, args...) }

// Warn implements hclog.Logger.
func (h *hcLogger) Warn(msg string, args ...any) { h.Log(hclog.Warn, msg, args...) }

// Error implements hclog.Logger.
func (h *hcLogger) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }

// IsTrace implements hclog.Logger.
func (h *hcLogger) IsTrace() bool { return h.enabled(hclog.Trace) }

// IsDebug implements hclog.Logger.
func (h *hcLogger) IsDebug() bool { return h.enabled(hclog.Debug) }

// IsInfo implements hclog.Logger.
func (h *hcLogger) IsInfo() bool { return h.enabled(hclog.Info) }

// IsWarn implements hclog.Logger.
func (h *hcLogger) IsWarn() bool { return h.enabled(hclog.Warn) }

// IsError implements hclog.Logger.
func (h *hcLogger) IsError() bool { return h.enabled(hclog.Error) }

// ImpliedArgs implements hclog.Logger.
func (h *hcLogger) ImpliedArgs() []any { return slices.Clone(h.implied) }

// With implements hclog.Logger.
func (h *hcLogger) With(args ...any) hclog.Logger {
	return h.derive(h.name, append(slices.Clone(h.implied), args...))
}

// Name implements hclog.Logger.
func (h *hcLogger) Name() string { return h.name }

// Named implements hclog.Logger.
func (h *hcLogger) Named(name string) hclog.Logger {
	if h.name != "" {
		name = h.name + "." + name
	}
	return h.derive(name, h.implied)
}

// ResetNamed implements hclog.Logger.
func (h *hcLogger) ResetNamed(name string) hclog.Logger { return h.derive(name, h.implied) }

// SetLevel implements hclog.Logger; it can only make the logger quieter
// than the slog handler, never louder.
func (h *hcLogger) SetLevel(level hclog.Level) { h.level.Store(int32(level)) }

// GetLevel implements hclog.Logger.
func (h *hcLogger) GetLevel() hclog.Level { return hclog.Level(h.level.Load()) }

// StandardLogger implements hclog.Logger: lines written to it are logged
// at opts.ForceLevel (default Info), mapped as in newHCLogger.
func (h *hcLogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	level := hclog.Info
	if opts != nil && opts.ForceLevel != hclog.NoLevel {
		level = opts.ForceLevel
	}
	return slog.NewLogLogger(h.l.Handler(), slogLevel(level))
}

// StandardWriter implements hclog.Logger.
func (h *hcLogger) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	return h.StandardLogger(opts).Writer()
}

func (h *hcLogger) derive(name string, implied []any) *hcLogger {
	l := h.base
	if name != "" && name != "raft" {
		l = l.With("module", name)
	}
	if len(implied) > 0 {
		l = l.With(textValues(implied)...)
	}
	return &hcLogger{base: h.base, l: l, name: name, implied: implied, level: h.level}
}

// textValues copies hclog's key/value list, turning values that are
// hclog.Fmt, errors or fmt.Stringers into their text (a Stringer's String may not
// be reachable through a slog handler's own formatting, e.g. in JSON).
func textValues(args []any) []any {
	out := slices.Clone(args)
	for i := 1; i < len(out); i += 2 {
		out[i] = text(out[i])
	}
	return out
}

func text(v any) (s any) {
	defer func() {
		if recover() != nil {
			s = fmt.Sprintf("%v", v) // fmt prints a panic in String itself
		}
	}()
	switch x := v.(type) {
	case hclog.Format:
		if len(x) > 0 {
			if f, ok := x[0].(string); ok {
				return fmt.Sprintf(f, x[1:]...)
			}
		}
		return fmt.Sprint(x...)
	case error:
		return x.Error()
	case fmt.Stringer:
		return x.String()
	}
	return v
}
