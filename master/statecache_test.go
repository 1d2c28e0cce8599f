package master

import (
	"testing"
	"time"
)

func TestStateTTLFor(t *testing.T) {
	for _, c := range []struct{ cost, want time.Duration }{
		{0, stateTTL},
		{5 * time.Millisecond, stateTTL},
		{10 * time.Millisecond, stateTTL},
		{50 * time.Millisecond, 500 * time.Millisecond},
		{300 * time.Millisecond, 3 * time.Second},
	} {
		if got := stateTTLFor(c.cost); got != c.want {
			t.Errorf("stateTTLFor(%v) = %v, want %v", c.cost, got, c.want)
		}
	}
}
