package allocator

import "slices"

// sortedList keeps items ordered by cmp. Items carry their own sort key; a
// key may change only while the item is out of the list (remove, change,
// insert), so that the list stays sorted by the stored keys and binary
// search finds every item. Insert and remove cost a binary search and one
// memmove of pointers, which for a thousand items is far cheaper than
// re-sorting.
type sortedList[T comparable] struct {
	items []T
	cmp   func(a, b T) int
}

func (l *sortedList[T]) insert(x T) {
	i, _ := slices.BinarySearchFunc(l.items, x, l.cmp)
	l.items = slices.Insert(l.items, i, x)
}

// remove deletes x and reports whether it was there.
func (l *sortedList[T]) remove(x T) bool {
	i, found := slices.BinarySearchFunc(l.items, x, l.cmp)
	if !found || l.items[i] != x {
		// Not where its key says: fall back to a scan (never expected).
		i = slices.Index(l.items, x)
		if i < 0 {
			return false
		}
	}
	var zero T
	copy(l.items[i:], l.items[i+1:])
	l.items[len(l.items)-1] = zero
	l.items = l.items[:len(l.items)-1]
	return true
}

// resort re-establishes the order after keys changed wholesale.
func (l *sortedList[T]) resort() { slices.SortFunc(l.items, l.cmp) }
