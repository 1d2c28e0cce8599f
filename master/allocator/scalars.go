package allocator

import (
	"math"

	"github.com/agora-cluster/agora/sdk/wire"
)

// Scalar arithmetic on wire.Resources that ignores ports and never
// allocates. Results are rounded to three decimals, as wire does, so that
// repeated addition and subtraction do not drift.

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

func addScalars(a, b wire.Resources) wire.Resources {
	return wire.Resources{CPUs: round3(a.CPUs + b.CPUs), MemMB: round3(a.MemMB + b.MemMB), DiskMB: round3(a.DiskMB + b.DiskMB)}
}

func subScalars(a, b wire.Resources) wire.Resources {
	return wire.Resources{CPUs: round3(a.CPUs - b.CPUs), MemMB: round3(a.MemMB - b.MemMB), DiskMB: round3(a.DiskMB - b.DiskMB)}
}

// minScalars is the per-resource minimum of a and b, never below zero.
func minScalars(a, b wire.Resources) wire.Resources {
	return wire.Resources{CPUs: max(0, min(a.CPUs, b.CPUs)), MemMB: max(0, min(a.MemMB, b.MemMB)), DiskMB: max(0, min(a.DiskMB, b.DiskMB))}
}

// scalarsOnly drops the ports of r.
func scalarsOnly(r wire.Resources) wire.Resources {
	return wire.Resources{CPUs: r.CPUs, MemMB: r.MemMB, DiskMB: r.DiskMB}
}

// hasScalars reports whether any scalar of r is positive.
func hasScalars(r wire.Resources) bool { return r.CPUs > 0 || r.MemMB > 0 || r.DiskMB > 0 }

// sanitize turns negative, NaN or infinite scalars into zero and drops
// malformed port ranges, so that bad input cannot corrupt a ledger.
func sanitize(r wire.Resources) wire.Resources {
	clean := func(v float64) float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return 0
		}
		return round3(v)
	}
	out := wire.Resources{CPUs: clean(r.CPUs), MemMB: clean(r.MemMB), DiskMB: clean(r.DiskMB)}
	if len(r.Ports) > 0 {
		var ok wire.Ranges
		for _, rg := range r.Ports {
			if rg.Begin <= rg.End && rg.End <= 65535 {
				ok = append(ok, rg)
			}
		}
		out.Ports = ok.Union(nil)
	}
	return out
}

// intersect returns what a and b have in common: per-scalar minimum and the
// ports in both.
func intersect(a, b wire.Resources) wire.Resources {
	out := minScalars(a, b)
	if len(a.Ports) > 0 && len(b.Ports) > 0 {
		out.Ports = a.Ports.Minus(a.Ports.Minus(b.Ports))
	}
	return out
}

// share is the dominant share of alloc in total: the largest of
// alloc/total over cpus, mem and disk (resources the cluster lacks are
// skipped).
func share(alloc, total wire.Resources) float64 {
	s := 0.0
	if total.CPUs > 0 {
		s = max(s, alloc.CPUs/total.CPUs)
	}
	if total.MemMB > 0 {
		s = max(s, alloc.MemMB/total.MemMB)
	}
	if total.DiskMB > 0 {
		s = max(s, alloc.DiskMB/total.DiskMB)
	}
	return s
}

// scalarNames lists the scalar resources of r that are positive (for
// messages).
func scalarNames(r wire.Resources) []string {
	var out []string
	if r.CPUs > 0 {
		out = append(out, "cpus")
	}
	if r.MemMB > 0 {
		out = append(out, "mem")
	}
	if r.DiskMB > 0 {
		out = append(out, "disk")
	}
	return out
}
