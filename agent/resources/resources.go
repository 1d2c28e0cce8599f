// Package resources discovers what an agent machine has (cpus, memory,
// disk) with gopsutil and parses the operator's overrides and attributes.
package resources

import (
	"fmt"
	"math"
	"strings"

	"github.com/shirou/gopsutil/v3/cpu"
	"github.com/shirou/gopsutil/v3/disk"
	"github.com/shirou/gopsutil/v3/mem"

	"github.com/agora-cluster/agora/sdk/wire"
)

// Detect returns the machine's cpus, memory (MB) and the disk (MB) of the
// filesystem holding workDir.
func Detect(workDir string) (wire.Resources, error) {
	n, err := cpu.Counts(true)
	if err != nil {
		return wire.Resources{}, fmt.Errorf("resources: count cpus: %w", err)
	}
	vm, err := mem.VirtualMemory()
	if err != nil {
		return wire.Resources{}, fmt.Errorf("resources: memory: %w", err)
	}
	du, err := disk.Usage(workDir)
	if err != nil {
		return wire.Resources{}, fmt.Errorf("resources: disk of %s: %w", workDir, err)
	}
	return wire.Resources{
		CPUs:   float64(n),
		MemMB:  math.Floor(float64(vm.Total) / (1 << 20)),
		DiskMB: math.Floor(float64(du.Total) / (1 << 20)),
	}, nil
}

// Given says which scalars of an override were set on purpose: a given
// scalar is used as it is, zero included (an agent told "cpus:0" offers no
// cpus); one not given is detected.
type Given struct {
	CPUs, MemMB, DiskMB bool
}

// ParseOverride parses the operator's --resources ("cpus:4;mem:8192;
// disk:20000;ports:[31000-32000]", as wire.ParseResources) and says which
// scalars it names.
func ParseOverride(s string) (wire.Resources, Given, error) {
	r, err := wire.ParseResources(s)
	if err != nil {
		return wire.Resources{}, Given{}, err
	}
	var g Given
	for _, part := range strings.Split(s, ";") {
		name, _, _ := strings.Cut(part, ":")
		switch strings.TrimSpace(name) {
		case "cpus":
			g.CPUs = true
		case "mem":
			g.MemMB = true
		case "disk":
			g.DiskMB = true
		}
	}
	return r, g, nil
}

// overridden says which scalars override replaces: those given, and those
// it sets (non-zero).
func overridden(override wire.Resources, given Given) Given {
	return Given{CPUs: given.CPUs || override.CPUs > 0, MemMB: given.MemMB || override.MemMB > 0, DiskMB: given.DiskMB || override.DiskMB > 0}
}

// Complete reports whether override, with the scalars given, leaves
// nothing to detect: every scalar is either given or non-zero.
func Complete(override wire.Resources, given Given) bool {
	o := overridden(override, given)
	return o.CPUs && o.MemMB && o.DiskMB
}

// Merge returns detected with every scalar that override sets (non-zero)
// or that given names (zero included) replaced, and override's ports.
func Merge(detected, override wire.Resources, given Given) wire.Resources {
	out := detected
	o := overridden(override, given)
	if o.CPUs {
		out.CPUs = override.CPUs
	}
	if o.MemMB {
		out.MemMB = override.MemMB
	}
	if o.DiskMB {
		out.DiskMB = override.DiskMB
	}
	if len(override.Ports) > 0 {
		out.Ports = override.Ports
	}
	return out
}

// ParseAttributes parses "rack:r1;zone:a" into a map.
func ParseAttributes(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return nil, fmt.Errorf("attribute %q: want key:value", part)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("attribute %q given twice", k)
		}
		out[k] = v
	}
	return out, nil
}
