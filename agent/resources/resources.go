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

// Merge returns detected with every scalar that override sets replaced,
// and override's ports.
func Merge(detected, override wire.Resources) wire.Resources {
	out := detected
	if override.CPUs > 0 {
		out.CPUs = override.CPUs
	}
	if override.MemMB > 0 {
		out.MemMB = override.MemMB
	}
	if override.DiskMB > 0 {
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
