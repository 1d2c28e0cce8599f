package wire

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Resources is a bundle of scalar resources plus port ranges. Scalars are
// kept to three decimal places (as Mesos does) so that repeated addition and
// subtraction never drifts.
type Resources struct {
	CPUs   float64 `json:"cpus,omitempty"`  // cores, fractional
	MemMB  float64 `json:"mem,omitempty"`   // memory in MB
	DiskMB float64 `json:"disk,omitempty"`  // sandbox disk in MB
	Ports  Ranges  `json:"ports,omitempty"` // port ranges, inclusive
}

// Range is an inclusive range of ports.
type Range struct {
	Begin uint64 `json:"begin"` // first port
	End   uint64 `json:"end"`   // last port, inclusive
}

// Ranges is a sorted list of disjoint, non-adjacent ranges.
type Ranges []Range

func fix(v float64) float64 { return math.Round(v*1000) / 1000 }

// Add returns r + o.
func (r Resources) Add(o Resources) Resources {
	return Resources{
		CPUs:   fix(r.CPUs + o.CPUs),
		MemMB:  fix(r.MemMB + o.MemMB),
		DiskMB: fix(r.DiskMB + o.DiskMB),
		Ports:  r.Ports.Union(o.Ports),
	}
}

// Sub returns r - o. Scalars may go negative; callers check Contains first.
func (r Resources) Sub(o Resources) Resources {
	return Resources{
		CPUs:   fix(r.CPUs - o.CPUs),
		MemMB:  fix(r.MemMB - o.MemMB),
		DiskMB: fix(r.DiskMB - o.DiskMB),
		Ports:  r.Ports.Minus(o.Ports),
	}
}

// Contains reports whether o fits in r.
func (r Resources) Contains(o Resources) bool {
	return fix(r.CPUs-o.CPUs) >= 0 && fix(r.MemMB-o.MemMB) >= 0 &&
		fix(r.DiskMB-o.DiskMB) >= 0 && r.Ports.Contains(o.Ports)
}

// IsZero reports whether r holds nothing.
func (r Resources) IsZero() bool {
	return r.CPUs == 0 && r.MemMB == 0 && r.DiskMB == 0 && len(r.Ports) == 0
}

// Equal reports whether r and o hold the same amounts.
func (r Resources) Equal(o Resources) bool {
	return r.Contains(o) && o.Contains(r)
}

// Validate rejects negative or non-finite scalars and malformed ranges.
func (r Resources) Validate() error {
	for _, s := range []struct {
		name string
		v    float64
	}{{"cpus", r.CPUs}, {"mem", r.MemMB}, {"disk", r.DiskMB}} {
		if math.IsNaN(s.v) || math.IsInf(s.v, 0) || s.v < 0 {
			return fmt.Errorf("resource %s: invalid amount %v", s.name, s.v)
		}
	}
	for _, rg := range r.Ports {
		if rg.Begin > rg.End || rg.End > 65535 {
			return fmt.Errorf("resource ports: invalid range %d-%d", rg.Begin, rg.End)
		}
	}
	return nil
}

// String formats r as "cpus:1;mem:128;disk:0;ports:[31000-31009]".
func (r Resources) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cpus:%s;mem:%s;disk:%s", num(r.CPUs), num(r.MemMB), num(r.DiskMB))
	if len(r.Ports) > 0 {
		fmt.Fprintf(&b, ";ports:%s", r.Ports)
	}
	return b.String()
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// ParseResources parses "cpus:4;mem:8192;disk:20000;ports:[31000-32000]".
// Names are cpus, mem (MB), disk (MB) and ports. Each may appear once.
func ParseResources(s string) (Resources, error) {
	var r Resources
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, ":")
		if !ok {
			return Resources{}, fmt.Errorf("resource %q: want name:value", part)
		}
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		if seen[name] {
			return Resources{}, fmt.Errorf("resource %q given twice", name)
		}
		seen[name] = true
		if name == "ports" {
			rs, err := ParseRanges(val)
			if err != nil {
				return Resources{}, fmt.Errorf("resource ports: %w", err)
			}
			r.Ports = rs
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return Resources{}, fmt.Errorf("resource %s: %q is not a non-negative number", name, val)
		}
		switch name {
		case "cpus":
			r.CPUs = fix(v)
		case "mem":
			r.MemMB = fix(v)
		case "disk":
			r.DiskMB = fix(v)
		default:
			return Resources{}, fmt.Errorf("unknown resource %q (want cpus, mem, disk or ports)", name)
		}
	}
	return r, nil
}

// ParseRanges parses "[31000-32000,33000-33010]" (brackets optional) or a
// single "31000-32000".
func ParseRanges(s string) (Ranges, error) {
	s = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "["), "]")
	var out Ranges
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		a, b, ok := strings.Cut(p, "-")
		if !ok {
			b = a
		}
		lo, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 16)
		hi, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 16)
		if err1 != nil || err2 != nil || lo > hi {
			return nil, fmt.Errorf("invalid range %q", p)
		}
		out = append(out, Range{lo, hi})
	}
	return normalize(out), nil
}

// String formats rs as "[31000-31009,32000-32000]".
func (rs Ranges) String() string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%d-%d", r.Begin, r.End)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// Count returns how many ports rs holds.
func (rs Ranges) Count() uint64 {
	var n uint64
	for _, r := range rs {
		n += r.End - r.Begin + 1
	}
	return n
}

func normalize(rs Ranges) Ranges {
	if len(rs) == 0 {
		return nil
	}
	c := append(Ranges(nil), rs...)
	sort.Slice(c, func(i, j int) bool { return c[i].Begin < c[j].Begin })
	out := Ranges{c[0]}
	for _, r := range c[1:] {
		last := &out[len(out)-1]
		if r.Begin <= last.End+1 {
			if r.End > last.End {
				last.End = r.End
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// Union returns rs ∪ o.
func (rs Ranges) Union(o Ranges) Ranges {
	if len(o) == 0 {
		return normalize(rs)
	}
	return normalize(append(append(Ranges(nil), rs...), o...))
}

// Minus returns rs \ o.
func (rs Ranges) Minus(o Ranges) Ranges {
	out := normalize(rs)
	for _, cut := range normalize(o) {
		var next Ranges
		for _, r := range out {
			if cut.End < r.Begin || cut.Begin > r.End {
				next = append(next, r)
				continue
			}
			if cut.Begin > r.Begin {
				next = append(next, Range{r.Begin, cut.Begin - 1})
			}
			if cut.End < r.End {
				next = append(next, Range{cut.End + 1, r.End})
			}
		}
		out = next
	}
	return out
}

// Contains reports whether every port in o is in rs.
func (rs Ranges) Contains(o Ranges) bool {
	n := normalize(rs)
	for _, want := range o {
		ok := false
		for _, r := range n {
			if want.Begin >= r.Begin && want.End <= r.End {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// Take returns the first n ports of rs as single-port ranges' union.
func (rs Ranges) Take(n int) (Ranges, error) {
	var out Ranges
	for _, r := range normalize(rs) {
		for p := r.Begin; p <= r.End && n > 0; p++ {
			out = append(out, Range{p, p})
			n--
		}
	}
	if n > 0 {
		return nil, errors.New("not enough ports")
	}
	return normalize(out), nil
}

// List returns every port in rs, in order.
func (rs Ranges) List() []uint64 {
	var out []uint64
	for _, r := range rs {
		for p := r.Begin; p <= r.End; p++ {
			out = append(out, p)
		}
	}
	return out
}
