package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Version is the protocol version this package speaks. Receivers reject
// envelopes with a newer major version.
const Version = 1

// MaxMessageBytes bounds one encoded message; larger ones are rejected
// before they are parsed.
const MaxMessageBytes = 8 << 20

// Envelope wraps every message on the wire.
type Envelope struct {
	V    int             `json:"v"`
	Type Type            `json:"type"`
	From string          `json:"from,omitempty"`
	Term uint64          `json:"term,omitempty"`
	Body json.RawMessage `json:"body,omitempty"`
}

// ErrDecode is wrapped by every decoding error.
var ErrDecode = errors.New("wire: cannot decode")

// Validator is implemented by message bodies with required fields.
type Validator interface {
	Validate() error
}

// Encode builds an envelope around body and encodes it. A body that
// implements [Validator] is validated first, so a sender cannot emit a
// message its receiver would reject.
func Encode(t Type, from string, term uint64, body any) ([]byte, error) {
	if v, ok := body.(Validator); ok && body != nil {
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("wire: encode %s: %w", t, err)
		}
	}
	var raw json.RawMessage
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("wire: encode %s: %w", t, err)
		}
		raw = b
	}
	return json.Marshal(Envelope{V: Version, Type: t, From: from, Term: term, Body: raw})
}

// MustEncode is Encode for bodies that cannot fail to encode (the
// protocol's own types, built by the caller). It panics on error.
func MustEncode(t Type, from string, term uint64, body any) []byte {
	b, err := Encode(t, from, term, body)
	if err != nil {
		panic(err)
	}
	return b
}

// Decode parses an envelope. It never panics; it rejects oversized input,
// malformed JSON, unknown protocol versions and an empty type.
func Decode(data []byte) (Envelope, error) {
	var e Envelope
	if len(data) > MaxMessageBytes {
		return e, fmt.Errorf("%w: message of %d bytes exceeds %d", ErrDecode, len(data), MaxMessageBytes)
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return Envelope{}, fmt.Errorf("%w: %v", ErrDecode, err)
	}
	if e.V != Version {
		return Envelope{}, fmt.Errorf("%w: protocol version %d, want %d", ErrDecode, e.V, Version)
	}
	if e.Type == "" {
		return Envelope{}, fmt.Errorf("%w: missing message type", ErrDecode)
	}
	return e, nil
}

// DecodeBody parses an envelope's body into v and validates it when v
// implements [Validator]. Unknown fields are ignored.
func DecodeBody(e Envelope, v any) error {
	body := bytes.TrimSpace(e.Body)
	if len(body) == 0 || bytes.Equal(body, []byte("null")) {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %s body: %v", ErrDecode, e.Type, err)
	}
	if val, ok := v.(Validator); ok {
		if err := val.Validate(); err != nil {
			return fmt.Errorf("%w: %s body: %v", ErrDecode, e.Type, err)
		}
	}
	return nil
}

// DecodeAs decodes data and its body in one step, checking the type.
func DecodeAs(data []byte, want Type, v any) (Envelope, error) {
	e, err := Decode(data)
	if err != nil {
		return e, err
	}
	if e.Type != want {
		return e, fmt.Errorf("%w: got %s, want %s", ErrDecode, e.Type, want)
	}
	return e, DecodeBody(e, v)
}

// required returns an error naming the field when v is empty.
func required[T ~string](name string, v T) error {
	if v == "" {
		return fmt.Errorf("missing required field %q", name)
	}
	return nil
}
