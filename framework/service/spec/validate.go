package spec

import (
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/agora-cluster/agora/sdk/constraint"
)

var (
	idPattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	namePattern = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_-]*$`)
)

// MaxInstances bounds Instances.
const MaxInstances = 10000

// Validate checks a spec whose defaults are set (see [App.SetDefaults])
// and returns an [Errors] naming every bad field, or nil.
func (a App) Validate() error {
	var errs Errors
	add := func(field, format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	switch {
	case a.ID == "":
		add("id", "required")
	case len(a.ID) > 64 || !idPattern.MatchString(a.ID):
		add("id", "%q: use at most 64 lower-case letters, digits, '-' and '_', starting with a letter or digit", a.ID)
	}
	switch {
	case a.Cmd == "" && len(a.Args) == 0:
		add("cmd", "one of cmd or args is required")
	case a.Cmd != "" && len(a.Args) > 0:
		add("args", "give cmd or args, not both")
	case len(a.Args) > 0 && a.Args[0] == "":
		add("args[0]", "the program must not be empty")
	}
	for k := range a.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			add("env."+k, "invalid variable name")
		}
	}
	positive := func(field string, v float64, zeroOK bool) {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || (!zeroOK && v == 0) {
			add(field, "must be a positive number, got %v", v)
		}
	}
	positive("resources.cpus", a.Resources.CPUs, false)
	positive("resources.mem", a.Resources.MemMB, false)
	positive("resources.disk", a.Resources.DiskMB, true)
	if a.Instances < 0 || a.Instances > MaxInstances {
		add("instances", "must be between 0 and %d, got %d", MaxInstances, a.Instances)
	}
	a.validatePorts(add)
	for i, c := range a.Constraints {
		if _, err := constraint.Parse(c); err != nil {
			add(fmt.Sprintf("constraints[%d]", i), "%v", err)
		}
	}
	commands := 0
	for i, h := range a.HealthChecks {
		field := fmt.Sprintf("health_checks[%d]", i)
		a.validateCheck(field, h, add)
		if h.Protocol == Command {
			if commands++; commands > 1 {
				add(field+".protocol", "only one COMMAND check per app: the agent runs it, and a task carries one")
			}
		}
	}
	if a.KillGrace < 0 {
		add("kill_grace", "must not be negative")
	}
	if a.KillSelection != YoungestFirst && a.KillSelection != OldestFirst {
		add("kill_selection", "%q: want YOUNGEST_FIRST or OLDEST_FIRST", a.KillSelection)
	}
	b := a.Backoff
	if b.Initial <= 0 {
		add("backoff.initial", "must be positive")
	}
	if b.Factor < 1 || math.IsNaN(b.Factor) || math.IsInf(b.Factor, 0) {
		add("backoff.factor", "must be at least 1, got %v", b.Factor)
	}
	if b.Max < b.Initial {
		add("backoff.max", "must be at least backoff.initial (%s)", b.Initial)
	}
	if b.ResetAfter < 0 {
		add("backoff.reset_after", "must not be negative")
	}
	u := a.Upgrade
	if v := u.MinHealth(); v < 0 || v > 1 || math.IsNaN(v) {
		add("upgrade.min_health_capacity", "must be between 0 and 1, got %v", v)
	}
	if v := u.MaxOver(); v < 0 || v > 1 || math.IsNaN(v) {
		add("upgrade.max_over_capacity", "must be between 0 and 1, got %v", v)
	}
	if u.Deadline < 0 {
		add("upgrade.deadline", "must not be negative")
	}
	if u.AutoRollback && u.Deadline == 0 {
		add("upgrade.auto_rollback", "needs upgrade.deadline")
	}
	un := a.Unreachable
	if un.InactiveAfter < 0 {
		add("unreachable.inactive_after", "must not be negative")
	}
	if un.ExpungeAfter < un.InactiveAfter {
		add("unreachable.expunge_after", "must be at least unreachable.inactive_after (%s)", un.InactiveAfter)
	}
	for k := range a.Labels {
		if k == "" {
			add("labels", "empty label key")
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

func (a App) validatePorts(add func(string, string, ...any)) {
	fixed := map[int]bool{}
	names := map[string]bool{}
	for i, p := range a.Ports {
		field := fmt.Sprintf("ports[%d]", i)
		if p.Port < 0 || p.Port > 65535 {
			add(field+".port", "must be between 0 (dynamic) and 65535, got %d", p.Port)
		} else if p.Port > 0 {
			if fixed[p.Port] {
				add(field+".port", "port %d is listed twice", p.Port)
			}
			fixed[p.Port] = true
		}
		if p.Name != "" {
			if !namePattern.MatchString(p.Name) {
				add(field+".name", "%q: use letters, digits, '-' and '_', starting with a letter", p.Name)
			}
			if names[strings.ToLower(p.Name)] {
				add(field+".name", "name %q is used twice", p.Name)
			}
			names[strings.ToLower(p.Name)] = true
		}
	}
}

func (a App) validateCheck(field string, h HealthCheck, add func(string, string, ...any)) {
	switch h.Protocol {
	case HTTP, TCP:
		if len(a.Ports) == 0 {
			add(field+".protocol", "%s checks need the app to have ports", h.Protocol)
		} else if h.PortIndex < 0 || h.PortIndex >= len(a.Ports) {
			add(field+".port_index", "%d is out of range: the app has %d port(s)", h.PortIndex, len(a.Ports))
		}
		if h.Protocol == HTTP && !strings.HasPrefix(h.Path, "/") {
			add(field+".path", "must start with '/'")
		}
		if h.Command != "" {
			add(field+".command", "only COMMAND checks take a command")
		}
	case Command:
		if strings.TrimSpace(h.Command) == "" {
			add(field+".command", "required for COMMAND checks")
		}
	default:
		add(field+".protocol", "%q: want HTTP, TCP or COMMAND", h.Protocol)
	}
	if h.Interval <= 0 {
		add(field+".interval", "must be positive")
	}
	if h.Timeout <= 0 {
		add(field+".timeout", "must be positive")
	} else if h.Timeout > h.Interval {
		add(field+".timeout", "must not exceed the interval (%s)", h.Interval)
	}
	if h.GracePeriod < 0 {
		add(field+".grace_period", "must not be negative")
	}
	if h.MaxFailures() < 0 {
		add(field+".max_consecutive_failures", "must not be negative")
	}
}
