package wire

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	// The protocol is plain JSON; this codec writes and reads the same
	// bytes as encoding/json, 3-6x faster (BenchmarkCodec), which is most
	// of a launch's cost on the master and agents.
	json "github.com/goccy/go-json"
)

// Version is the protocol version this package speaks. Receivers reject
// envelopes with a newer major version.
const Version = 1

// MaxMessageBytes bounds one encoded message; larger ones are rejected
// before they are parsed.
const MaxMessageBytes = 8 << 20

// Envelope wraps every message on the wire.
type Envelope struct {
	V    int             `json:"v"`              // protocol version of the sender ([Version])
	Type Type            `json:"type"`           // what Body holds, e.g. TypeOffers
	From string          `json:"from,omitempty"` // the sender: a framework's or agent's ID, or a master's name
	Term uint64          `json:"term,omitempty"` // the leader term of a master sender; receivers fence out older terms (0 from others)
	Body json.RawMessage `json:"body,omitempty"` // the message, JSON; decode it with [DecodeBody]
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
	var raw []byte
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("wire: encode %s: %w", t, err)
		}
		raw = b
	}
	// The envelope is assembled around the encoded body rather than
	// encoded with it, which would scan the body a second time; the bytes
	// are those of json.Marshal(Envelope{...}).
	typ, err := json.Marshal(string(t))
	if err != nil {
		return nil, fmt.Errorf("wire: encode %s: %w", t, err)
	}
	out := make([]byte, 0, len(raw)+len(typ)+len(from)+48)
	out = append(out, `{"v":`...)
	out = strconv.AppendInt(out, Version, 10)
	out = append(out, `,"type":`...)
	out = append(out, typ...)
	if from != "" {
		f, err := json.Marshal(from)
		if err != nil {
			return nil, fmt.Errorf("wire: encode %s: %w", t, err)
		}
		out = append(append(out, `,"from":`...), f...)
	}
	if term != 0 {
		out = strconv.AppendUint(append(out, `,"term":`...), term, 10)
	}
	if len(raw) > 0 {
		out = append(append(out, `,"body":`...), raw...)
	}
	return append(out, '}'), nil
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
func Decode(data []byte) (e Envelope, err error) {
	defer recoverDecode(&err)
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
func DecodeBody(e Envelope, v any) (err error) {
	defer recoverDecode(&err)
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

// recoverDecode turns a panic of the JSON codec on hostile input into a
// decoding error: the promise is that decoding never panics, whatever the
// library underneath does.
func recoverDecode(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: malformed input (%v)", ErrDecode, r)
	}
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
