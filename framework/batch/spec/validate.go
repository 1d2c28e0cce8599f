package spec

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones work without the system's zoneinfo

	"github.com/robfig/cron/v3"

	"github.com/agora-cluster/agora/sdk/constraint"
)

// Limits on job fields.
const (
	MaxInstances    = 100000
	MaxRetries      = 1000
	MaxPorts        = 100
	MaxNameLen      = 63
	MaxCommandBytes = 64 << 10
	MaxKillGrace    = 10 * time.Minute
)

var (
	nameRE   = regexp.MustCompile(`^[a-z]([a-z0-9-]*[a-z0-9])?$`)
	envKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// ReservedEnvPrefix starts the environment variables the framework sets on
// every task (BATCH_JOB, BATCH_RUN, BATCH_INSTANCE, BATCH_ATTEMPT); a job
// cannot set them itself.
const ReservedEnvPrefix = "BATCH_"

// ValidName reports whether s is a valid job name, and why not.
func ValidName(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("is required")
	case len(s) > MaxNameLen:
		return fmt.Errorf("%q is longer than %d characters", s, MaxNameLen)
	case !nameRE.MatchString(s):
		return fmt.Errorf("%q must be lower-case letters, digits and '-', start with a letter and not end with '-'", s)
	}
	return nil
}

// cronParser accepts the standard five fields and descriptors.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseCron parses a cron expression as a job's schedule does.
func ParseCron(expr string) (cron.Schedule, error) {
	if strings.HasPrefix(strings.TrimSpace(expr), "CRON_TZ=") || strings.HasPrefix(strings.TrimSpace(expr), "TZ=") {
		return nil, fmt.Errorf("set the time zone with schedule.timezone, not in the expression")
	}
	return cronParser.Parse(expr)
}

type validator struct {
	errs  *errorList
	set   map[string]bool
	lines map[string]int
}

func (v *validator) bad(path, format string, args ...any) {
	v.errs.add(path, v.lines[path], format, args...)
}

func (v *validator) job(j *Job) {
	if err := ValidName(j.Name); err != nil {
		v.bad("name", "%v", err)
	}
	v.command(j)
	for k := range j.Env {
		p := "env." + k
		switch {
		case !envKeyRE.MatchString(k):
			v.bad(p, "%q is not a valid environment variable name", k)
		case strings.HasPrefix(k, ReservedEnvPrefix):
			v.bad(p, "variables starting with %s are set by the framework", ReservedEnvPrefix)
		}
	}
	v.resources(j.Resources)
	if v.set["instances"] && (j.Instances < 1 || j.Instances > MaxInstances) {
		v.bad("instances", "must be between 1 and %d, not %d", MaxInstances, j.Instances)
	}
	if v.set["parallelism"] {
		inst := max(j.Instances, 1)
		switch {
		case j.Parallelism < 1:
			v.bad("parallelism", "must be at least 1, not %d", j.Parallelism)
		case j.Parallelism > inst:
			v.bad("parallelism", "must not exceed instances (%d), not %d", inst, j.Parallelism)
		}
	}
	v.retries(j.Retries)
	if j.Timeout.Task < 0 {
		v.bad("timeout.task", "must not be negative")
	}
	if j.Timeout.Run < 0 {
		v.bad("timeout.run", "must not be negative")
	}
	if j.KillGrace < 0 || j.KillGrace.D() > MaxKillGrace {
		v.bad("kill_grace", "must be between 0 and %s, not %s", MaxKillGrace, j.KillGrace)
	}
	for i, c := range j.Constraints {
		v.constraint(fmt.Sprintf("constraints[%d]", i), c)
	}
	seen := map[string]bool{}
	for i, d := range j.DependsOn {
		p := fmt.Sprintf("depends_on[%d]", i)
		switch err := ValidName(d); {
		case err != nil:
			v.bad(p, "job name %v", err)
		case d == j.Name:
			v.bad(p, "a job cannot depend on itself")
		case seen[d]:
			v.bad(p, "%q is listed twice", d)
		}
		seen[d] = true
	}
	if j.Schedule != nil {
		if len(j.DependsOn) > 0 {
			v.bad("schedule", "a job with depends_on is started by its parents and cannot have a schedule")
		}
		v.schedule(j.Schedule)
	}
	for k, val := range j.Labels {
		if k == "" || len(k) > 63 {
			v.bad("labels", "label names must be 1 to 63 characters, not %q", k)
		}
		if len(val) > 1024 {
			v.bad("labels."+k, "longer than 1024 characters")
		}
	}
	if s := j.Simulate; s != nil {
		if s.Duration < 0 {
			v.bad("simulate.duration", "must not be negative")
		}
		if s.ExitCode < 0 || s.ExitCode > 255 {
			v.bad("simulate.exit_code", "must be between 0 and 255, not %d", s.ExitCode)
		}
	}
}

func (v *validator) command(j *Job) {
	switch {
	case j.Command == "" && len(j.Args) == 0:
		if v.set["command"] {
			v.bad("command", "must not be empty")
		} else {
			v.bad("command", "is required (or give args)")
		}
	case j.Command != "" && len(j.Args) > 0:
		v.bad("args", "give either command (run by a shell) or args (run directly), not both")
	case len(j.Command) > MaxCommandBytes:
		v.bad("command", "longer than %d bytes", MaxCommandBytes)
	case len(j.Args) > 0 && strings.TrimSpace(j.Args[0]) == "":
		v.bad("args[0]", "the program must not be empty")
	}
}

func (v *validator) resources(r Resources) {
	for _, s := range []struct {
		name string
		val  float64
		max  float64
	}{{"cpus", r.CPUs, 4096}, {"mem", r.MemMB, 1 << 30}, {"disk", r.DiskMB, 1 << 40}} {
		p := "resources." + s.name
		switch {
		case math.IsNaN(s.val) || math.IsInf(s.val, 0):
			v.bad(p, "must be a finite number")
		case s.val < 0:
			v.bad(p, "must not be negative, not %s", strconv.FormatFloat(s.val, 'g', -1, 64))
		case s.val == 0 && v.set[p] && s.name != "disk":
			v.bad(p, "must be more than 0 (leave it out for the default)")
		case s.val > s.max:
			v.bad(p, "must be at most %s", strconv.FormatFloat(s.max, 'g', -1, 64))
		}
	}
	if r.Ports < 0 || r.Ports > MaxPorts {
		v.bad("resources.ports", "must be between 0 and %d, not %d", MaxPorts, r.Ports)
	}
}

func (v *validator) retries(r Retries) {
	if r.Limit < 0 || r.Limit > MaxRetries {
		v.bad("retries.limit", "must be between 0 and %d, not %d", MaxRetries, r.Limit)
	}
	if r.Backoff < 0 {
		v.bad("retries.backoff", "must not be negative")
	}
	if r.MaxBackoff < 0 {
		v.bad("retries.max_backoff", "must not be negative")
	}
	if r.MaxBackoff > 0 && r.Backoff > r.MaxBackoff {
		v.bad("retries.max_backoff", "must not be less than retries.backoff (%s)", r.Backoff)
	}
}

func (v *validator) constraint(p string, c Constraint) {
	if c.Attribute == "" {
		v.bad(p+".attribute", "is required")
		return
	}
	switch c.Operator {
	case OpEq, OpNeq:
		if !v.set[p+".value"] {
			v.bad(p+".value", "is required for %s", c.Operator)
		}
		return
	case OpExists:
		if c.Value != "" {
			v.bad(p+".value", "must not be given for %s", c.Operator)
		}
		return
	case "":
		v.bad(p+".operator", "is required (one of %s)", Operators)
		return
	}
	sc, _ := c.Shared()
	err := sc.Validate()
	if err == nil {
		return
	}
	switch c.Operator {
	case OpLike, OpUnlike, OpUnique, OpMaxPer, OpCluster, OpGroupBy:
		// The shared package's message names the constraint; keep its reason.
		msg := strings.TrimPrefix(err.Error(), constraint.ErrInvalid.Error()+" "+strconv.Quote(sc.String())+": ")
		v.bad(p+".value", "%s", msg)
	default:
		v.bad(p+".operator", "unknown operator %q (want %s)", c.Operator, Operators)
	}
}

func (v *validator) schedule(s *Schedule) {
	if s.Cron == "" {
		v.bad("schedule.cron", "is required")
	} else if _, err := ParseCron(s.Cron); err != nil {
		v.bad("schedule.cron", "invalid cron expression %q: %v", s.Cron, err)
	}
	if s.Timezone != "" {
		if _, err := time.LoadLocation(s.Timezone); err != nil || strings.EqualFold(s.Timezone, "local") {
			v.bad("schedule.timezone", "unknown time zone %q (want an IANA name like \"Europe/Berlin\" or \"UTC\")", s.Timezone)
		}
	}
	switch s.ConcurrencyPolicy {
	case "", Allow, Forbid, Replace:
	default:
		v.bad("schedule.concurrency_policy", "unknown policy %q (want ALLOW, FORBID or REPLACE)", s.ConcurrencyPolicy)
	}
	if s.StartingDeadline < 0 {
		v.bad("schedule.starting_deadline", "must not be negative")
	} else if s.StartingDeadline == 0 && v.set["schedule.starting_deadline"] {
		v.bad("schedule.starting_deadline", "must be more than 0 (leave it out for the default of %s)", DefaultStartingDeadline)
	}
}
