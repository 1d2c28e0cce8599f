package api

import (
	"errors"
	"fmt"

	"github.com/agora-cluster/agora/framework/batch/engine"
	"github.com/agora-cluster/agora/framework/batch/sandbox"
	"github.com/agora-cluster/agora/framework/batch/spec"
)

// Error codes.
const (
	CodeInvalid     = "INVALID"
	CodeNotFound    = "NOT_FOUND"
	CodeConflict    = "CONFLICT"
	CodeUnsupported = "UNSUPPORTED"
	CodeInternal    = "INTERNAL"
)

// Error is an error answer from the API.
type Error struct {
	Status  int               `json:"-"`
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  []spec.FieldError `json:"fields,omitempty"`
}

func (e *Error) Error() string {
	if len(e.Fields) > 0 {
		return spec.Errors(e.Fields).Error()
	}
	return e.Message
}

// Is maps codes to the engine's and spec's sentinel errors, so that
// errors.Is(err, engine.ErrNotFound) works on the client side too.
func (e *Error) Is(target error) bool {
	switch e.Code {
	case CodeInvalid:
		return target == spec.ErrInvalid
	case CodeNotFound:
		return target == engine.ErrNotFound
	case CodeConflict:
		return target == engine.ErrConflict
	case CodeUnsupported:
		return target == sandbox.ErrUnsupported
	}
	return false
}

// toError classifies a server-side error.
func toError(err error) *Error {
	var es spec.Errors
	switch {
	case errors.As(err, &es):
		return &Error{Status: 400, Code: CodeInvalid, Message: es.Error(), Fields: es}
	case errors.Is(err, spec.ErrInvalid):
		return &Error{Status: 400, Code: CodeInvalid, Message: err.Error()}
	case errors.Is(err, engine.ErrNotFound), errors.Is(err, sandbox.ErrNotFound):
		return &Error{Status: 404, Code: CodeNotFound, Message: err.Error()}
	case errors.Is(err, engine.ErrConflict):
		return &Error{Status: 409, Code: CodeConflict, Message: err.Error()}
	case errors.Is(err, sandbox.ErrUnsupported):
		return &Error{Status: 501, Code: CodeUnsupported, Message: err.Error()}
	}
	return &Error{Status: 500, Code: CodeInternal, Message: err.Error()}
}

func badRequest(format string, args ...any) *Error {
	return &Error{Status: 400, Code: CodeInvalid, Message: fmt.Sprintf(format, args...)}
}
