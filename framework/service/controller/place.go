package controller

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/agora-cluster/agora/framework/service/health"
	"github.com/agora-cluster/agora/framework/service/spec"
	"github.com/agora-cluster/agora/sdk/constraint"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Labels the framework puts on every task.
const (
	LabelApp    = "agora.service/app"
	LabelConfig = "agora.service/config"
)

// fit checks whether one instance of sp fits in left (what is left of an
// offer) and picks its ports: fixed ones as asked, dynamic ones from the
// offered ranges. It returns the ports in the spec's order, or a reason
// naming the resource that is short.
func fit(sp spec.App, left wire.Resources) ([]uint64, string) {
	r := sp.Resources
	short := func(name string, need, have float64) string {
		return fmt.Sprintf("insufficient %s: need %g, offered %g", name, need, have)
	}
	switch {
	case left.CPUs < r.CPUs:
		return nil, short("cpus", r.CPUs, left.CPUs)
	case left.MemMB < r.MemMB:
		return nil, short("mem", r.MemMB, left.MemMB)
	case left.DiskMB < r.DiskMB:
		return nil, short("disk", r.DiskMB, left.DiskMB)
	}
	var fixed wire.Ranges
	dynamic := 0
	for _, p := range sp.Ports {
		if p.Port == 0 {
			dynamic++
			continue
		}
		one := wire.Ranges{{Begin: uint64(p.Port), End: uint64(p.Port)}}
		if !left.Ports.Contains(one) {
			return nil, fmt.Sprintf("port %d is not offered", p.Port)
		}
		fixed = fixed.Union(one)
	}
	avail := left.Ports.Minus(fixed)
	if uint64(dynamic) > avail.Count() {
		return nil, fmt.Sprintf("insufficient ports: need %d, offered %d", dynamic, avail.Count())
	}
	taken, _ := avail.Take(dynamic)
	dyn := taken.List()
	out := make([]uint64, len(sp.Ports))
	for i, p := range sp.Ports {
		if p.Port != 0 {
			out[i] = uint64(p.Port)
			continue
		}
		out[i], dyn = dyn[0], dyn[1:]
	}
	return out, ""
}

// portRanges turns a port list into ranges.
func portRanges(ports []uint64) wire.Ranges {
	var rs wire.Ranges
	for _, p := range ports {
		rs = rs.Union(wire.Ranges{{Begin: p, End: p}})
	}
	return rs
}

// needs is what one instance of sp takes from an offer.
func needs(sp spec.App, ports []uint64) wire.Resources {
	return wire.Resources{CPUs: sp.Resources.CPUs, MemMB: sp.Resources.MemMB, DiskMB: sp.Resources.DiskMB, Ports: portRanges(ports)}
}

// taskInfo builds the task for a new instance.
func taskInfo(sp spec.App, inst *Instance) wire.TaskInfo {
	cmd := wire.CommandInfo{Value: sp.Cmd, Shell: true}
	if sp.Cmd == "" {
		cmd = wire.CommandInfo{Value: sp.Args[0], Args: append([]string(nil), sp.Args[1:]...)}
	}
	env := map[string]string{}
	for k, v := range sp.Env {
		env[k] = v
	}
	for i, p := range inst.Ports {
		if name := sp.NamedPortEnv(i); name != "" {
			env[name] = strconv.FormatUint(p, 10)
		}
	}
	env["AGORA_APP"] = sp.ID
	env["AGORA_APP_CONFIG"] = strconv.Itoa(inst.Config)
	env["HOST"] = inst.Hostname
	labels := map[string]string{}
	for k, v := range sp.Labels {
		labels[k] = v
	}
	labels[LabelApp] = sp.ID
	labels[LabelConfig] = strconv.Itoa(inst.Config)
	return wire.TaskInfo{
		TaskID:    inst.ID,
		Name:      sp.ID,
		AgentID:   inst.AgentID,
		Resources: needs(sp, inst.Ports),
		Command:   cmd,
		Env:       env,
		KillGrace: wire.Duration(sp.KillGrace),
		Labels:    labels,
		// The agent runs the COMMAND check in the instance's sandbox.
		HealthCheck: agentCheck(sp),
	}
}

// agentCheckIndex is the index in sp's health_checks of the check the
// agent runs (the COMMAND check; validation allows one), or -1.
func agentCheckIndex(sp spec.App) int {
	for i, hc := range sp.HealthChecks {
		if health.RunByAgent(hc) {
			return i
		}
	}
	return -1
}

// agentCheck is the task's health check: the app's COMMAND check, for the
// agent to run, or nil. The agent applies the same grace period and
// consecutive-failure limit as the framework does for its own checks,
// and kills the task (reason REASON_TASK_UNHEALTHY) when it fails that
// many times in a row; max_consecutive_failures 0 (never kill) becomes a
// limit never reached.
func agentCheck(sp spec.App) *wire.HealthCheck {
	i := agentCheckIndex(sp)
	if i < 0 {
		return nil
	}
	hc := sp.HealthChecks[i]
	limit := hc.MaxFailures()
	if limit <= 0 {
		limit = math.MaxInt32
	}
	return &wire.HealthCheck{
		Type:                wire.HealthCommand,
		Command:             hc.Command,
		Interval:            wire.Duration(hc.Interval),
		Timeout:             wire.Duration(hc.Timeout),
		GracePeriod:         wire.Duration(hc.GracePeriod),
		ConsecutiveFailures: limit,
	}
}

// target is where an instance runs, for constraints.
func (i *Instance) target() constraint.Target {
	return constraint.Target{Hostname: i.Hostname, Attributes: i.Attributes}
}

// placeSummary explains, from the offers recently seen, why none fits.
func (a *app) placeSummary() string {
	if len(a.placeFail) == 0 {
		return ""
	}
	hosts := make([]string, 0, len(a.placeFail))
	for h := range a.placeFail {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	parts := make([]string, 0, len(hosts))
	for _, h := range hosts {
		parts = append(parts, h+": "+a.placeFail[h].reason)
	}
	return "offers do not fit: " + strings.Join(parts, "; ")
}
