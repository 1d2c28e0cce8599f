package sdk

// uuidSet remembers the most recent update UUIDs (a bounded ring), so that
// resent updates are delivered to the scheduler once. It is only used
// from the driver's event goroutine.
type uuidSet struct {
	m    map[string]struct{}
	ring []string
	next int
}

const uuidSetSize = 1 << 16

// add records uuid and reports whether it was new.
func (s *uuidSet) add(uuid string) bool {
	if s.m == nil {
		s.m = make(map[string]struct{}, uuidSetSize)
		s.ring = make([]string, uuidSetSize)
	}
	if _, ok := s.m[uuid]; ok {
		return false
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.m, old)
	}
	s.ring[s.next] = uuid
	s.next = (s.next + 1) % len(s.ring)
	s.m[uuid] = struct{}{}
	return true
}
