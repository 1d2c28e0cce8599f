package allocator

// Bitsets indexed by fwRole slot. Every fwRole has a small dense slot
// number; each agent keeps a bitset of the slots that filtered it, so the
// inner loop of a pass tests a bit instead of looking up a map, and an agent
// that every offerable framework filtered is skipped with a few word
// operations.

func setBit(bits *[]uint64, slot int) {
	w := slot >> 6
	if w >= len(*bits) {
		*bits = append(*bits, make([]uint64, w+1-len(*bits))...)
	}
	(*bits)[w] |= 1 << (slot & 63)
}

func clearBit(bits []uint64, slot int) {
	if w := slot >> 6; w < len(bits) {
		bits[w] &^= 1 << (slot & 63)
	}
}

func hasBit(bits []uint64, slot int) bool {
	w := slot >> 6
	return w < len(bits) && bits[w]&(1<<(slot&63)) != 0
}

// covers reports whether every bit of want is set in have.
func covers(have, want []uint64) bool {
	for i, w := range want {
		var h uint64
		if i < len(have) {
			h = have[i]
		}
		if w&^h != 0 {
			return false
		}
	}
	return true
}

// newSlot hands out the lowest free slot.
func (a *Allocator) newSlot() int {
	if n := len(a.freeSlots); n > 0 {
		s := a.freeSlots[n-1]
		a.freeSlots = a.freeSlots[:n-1]
		return s
	}
	a.nextSlot++
	return a.nextSlot - 1
}
