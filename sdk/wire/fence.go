package wire

import "sync"

// TermFence remembers the highest leader term a receiver has seen and
// rejects messages from older terms: a deposed leader cannot act.
type TermFence struct {
	mu   sync.Mutex
	term uint64
}

// Admit reports whether a message of term may be acted on, and raises the
// fence when term is newer. Term 0 (a message not from a master) is
// always refused.
func (f *TermFence) Admit(term uint64) bool {
	if term == 0 {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if term < f.term {
		return false
	}
	f.term = term
	return true
}

// Newer reports whether term is higher than any seen so far, and raises the
// fence if so.
func (f *TermFence) Newer(term uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if term <= f.term {
		return false
	}
	f.term = term
	return true
}

// Term returns the highest term seen.
func (f *TermFence) Term() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.term
}
