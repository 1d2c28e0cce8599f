package wire

import (
	"crypto/rand"
	"encoding/hex"
)

// NewID returns prefix followed by 16 random hex digits, for framework,
// agent and update IDs.
func NewID(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// NewUUID returns a random 128-bit identifier in hex.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
