package spec

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is wrapped by every error Parse and Validate return, so that
// callers can tell bad input from other failures with errors.Is.
var ErrInvalid = errors.New("invalid job spec")

// FieldError is one problem with one field.
type FieldError struct {
	// Path is the field's path, e.g. "retries.backoff" or
	// "jobs[2].constraints[0].operator"; "" means the whole document.
	Path string `json:"path"`
	// Line is the 1-based line of the offending value, 0 if unknown.
	Line int `json:"line,omitempty"`
	// Message says what is wrong.
	Message string `json:"message"`
}

func (e FieldError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Errors is a list of field problems. It wraps ErrInvalid.
type Errors []FieldError

func (es Errors) Error() string {
	if len(es) == 1 {
		return es[0].Error()
	}
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return fmt.Sprintf("%d problems:\n  %s", len(es), strings.Join(parts, "\n  "))
}

// Unwrap lets errors.Is(err, ErrInvalid) hold.
func (es Errors) Unwrap() error { return ErrInvalid }

// errorList collects field errors.
type errorList struct {
	prefix string
	errs   Errors
}

func (l *errorList) add(path string, line int, format string, args ...any) {
	l.errs = append(l.errs, FieldError{Path: join(l.prefix, path), Line: line, Message: fmt.Sprintf(format, args...)})
}

func (l *errorList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	return l.errs
}

// join joins two path parts with a dot, unless the second is an index.
func join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	case strings.HasPrefix(b, "["):
		return a + b
	}
	return a + "." + b
}
