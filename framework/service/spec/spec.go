// Package spec defines the service framework's application spec — what
// `agora service deploy FILE` reads — and its strict decoding and
// validation. Every error names the field it is about, as a path such as
// "health_checks[0].interval".
package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// App is one application: a command run as Instances identical
// instances, kept healthy, upgraded by rolling deployments.
type App struct {
	// ID names the app: lower-case letters, digits, '-' and '_'.
	ID string `json:"id"`
	// Cmd is run with `sh -c`. Exactly one of Cmd and Args is set.
	Cmd string `json:"cmd,omitempty"`
	// Args is a program and its arguments, run without a shell.
	Args []string          `json:"args,omitempty"`
	Env  map[string]string `json:"env,omitempty"`
	// Resources each instance needs. Defaults: cpus 0.1, mem 32.
	Resources Resources `json:"resources"`
	// Instances is how many healthy instances to keep (default 1 in a
	// file; 0 is allowed and stops all instances).
	Instances int `json:"instances"`
	// Ports each instance needs, in order. A port of 0 is chosen from the
	// agent's offered ranges. Each instance sees PORT_<NAME> for named
	// ports; the agent also sets PORT0..PORTn-1 in ascending port order.
	Ports []Port `json:"ports,omitempty"`
	// Constraints are placement rules, "field:OPERATOR[:value]" (see
	// package sdk/constraint).
	Constraints  []string      `json:"constraints,omitempty"`
	HealthChecks []HealthCheck `json:"health_checks,omitempty"`
	// KillGrace is the time between SIGTERM and SIGKILL (0: the agent's
	// default).
	KillGrace Duration `json:"kill_grace,omitempty"`
	// KillSelection chooses which instances a scale-down kills first.
	KillSelection KillSelection     `json:"kill_selection,omitempty"`
	Backoff       Backoff           `json:"backoff"`
	Upgrade       Upgrade           `json:"upgrade"`
	Unreachable   Unreachable       `json:"unreachable"`
	Labels        map[string]string `json:"labels,omitempty"`
}

// Resources an instance needs.
type Resources struct {
	CPUs   float64 `json:"cpus"`
	MemMB  float64 `json:"mem"`
	DiskMB float64 `json:"disk,omitempty"`
}

// Port is one port an instance needs.
type Port struct {
	Name string `json:"name,omitempty"`
	// Port is a fixed port, or 0 for one chosen from the offer.
	Port int `json:"port,omitempty"`
}

// Protocol is a health check's kind.
type Protocol string

// Health check protocols.
const (
	HTTP    Protocol = "HTTP"
	TCP     Protocol = "TCP"
	Command Protocol = "COMMAND"
)

// HealthCheck describes one check. HTTP and TCP checks are probed by the
// framework at the instance's host and port; a COMMAND check (at most one
// per app) is run by the instance's agent, in its sandbox and
// environment.
type HealthCheck struct {
	Protocol Protocol `json:"protocol"`
	// Path is the HTTP path (default "/"); 2xx and 3xx answers pass.
	Path string `json:"path,omitempty"`
	// PortIndex picks the port from Ports (default 0).
	PortIndex int `json:"port_index,omitempty"`
	// Command is the COMMAND check's shell command; exit 0 passes.
	Command string `json:"command,omitempty"`
	// GracePeriod: failures before the first success within this time
	// after the instance started are not counted (default 30s).
	GracePeriod Duration `json:"grace_period,omitempty"`
	// Interval between checks (default 10s).
	Interval Duration `json:"interval,omitempty"`
	// Timeout of one check (default 5s; less than Interval).
	Timeout Duration `json:"timeout,omitempty"`
	// MaxConsecutiveFailures kills the instance after that many failures
	// in a row (default 3; 0 never kills).
	MaxConsecutiveFailures *int `json:"max_consecutive_failures,omitempty"`
}

// KillSelection orders instances for a scale-down.
type KillSelection string

// Kill selections.
const (
	YoungestFirst KillSelection = "YOUNGEST_FIRST"
	OldestFirst   KillSelection = "OLDEST_FIRST"
)

// Backoff delays relaunches after failures: Initial, then times Factor
// for each further failure, at most Max. The delay is reset when an
// instance has been healthy for ResetAfter, and by a new config.
type Backoff struct {
	Initial    Duration `json:"initial,omitempty"`
	Factor     float64  `json:"factor,omitempty"`
	Max        Duration `json:"max,omitempty"`
	ResetAfter Duration `json:"reset_after,omitempty"`
}

// Upgrade bounds rolling deployments.
type Upgrade struct {
	// MinHealthCapacity is the fraction of Instances that must stay
	// healthy while old instances are replaced (default 1).
	MinHealthCapacity *float64 `json:"min_health_capacity,omitempty"`
	// MaxOverCapacity is the fraction of Instances that may run on top
	// of Instances during a deployment (default 1).
	MaxOverCapacity *float64 `json:"max_over_capacity,omitempty"`
	// Deadline, if set, is how long a deployment may take.
	Deadline Duration `json:"deadline,omitempty"`
	// AutoRollback rolls back to the last good version when a
	// deployment misses its deadline.
	AutoRollback bool `json:"auto_rollback,omitempty"`
}

// Unreachable says what to do with instances on unreachable agents.
type Unreachable struct {
	// InactiveAfter: then a replacement is launched (default 5m).
	InactiveAfter Duration `json:"inactive_after,omitempty"`
	// ExpungeAfter: then the instance is forgotten, and killed if it
	// ever comes back (default 10m).
	ExpungeAfter Duration `json:"expunge_after,omitempty"`
}

// Defaults.
const (
	DefaultCPUs                   = 0.1
	DefaultMemMB                  = 32
	DefaultGracePeriod            = 30 * time.Second
	DefaultInterval               = 10 * time.Second
	DefaultTimeout                = 5 * time.Second
	DefaultMaxConsecutiveFailures = 3
	DefaultBackoffInitial         = time.Second
	DefaultBackoffFactor          = 2.0
	DefaultBackoffMax             = time.Minute
	DefaultBackoffResetAfter      = 30 * time.Second
	DefaultInactiveAfter          = 5 * time.Minute
	DefaultExpungeAfter           = 10 * time.Minute
)

// Duration is a time.Duration written as a Go duration string ("10s",
// "1m30s") in YAML and JSON.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d as a Go duration.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON implements json.Unmarshaler. A bare number is refused:
// "10" would be ambiguous. The error is a *json.UnmarshalTypeError so
// that the decoder names the field.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return &json.UnmarshalTypeError{Value: "non-string " + string(b) + " (want a duration such as \"10s\")", Type: durationType}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return &json.UnmarshalTypeError{Value: strconv.Quote(s) + " (want a duration such as \"10s\")", Type: durationType}
	}
	*d = Duration(v)
	return nil
}

// Float returns a pointer to v, for the optional fractions.
func Float(v float64) *float64 { return &v }

// Int returns a pointer to v, for MaxConsecutiveFailures.
func Int(v int) *int { return &v }

// MinHealth returns the effective min_health_capacity.
func (u Upgrade) MinHealth() float64 {
	if u.MinHealthCapacity == nil {
		return 1
	}
	return *u.MinHealthCapacity
}

// MaxOver returns the effective max_over_capacity.
func (u Upgrade) MaxOver() float64 {
	if u.MaxOverCapacity == nil {
		return 1
	}
	return *u.MaxOverCapacity
}

// MaxFailures returns the effective max_consecutive_failures.
func (h HealthCheck) MaxFailures() int {
	if h.MaxConsecutiveFailures == nil {
		return DefaultMaxConsecutiveFailures
	}
	return *h.MaxConsecutiveFailures
}

// SetDefaults fills the fields left empty with their defaults. It does
// not touch Instances (see [Parse], which defaults it to 1 when absent).
func (a *App) SetDefaults() {
	if a.Resources.CPUs == 0 {
		a.Resources.CPUs = DefaultCPUs
	}
	if a.Resources.MemMB == 0 {
		a.Resources.MemMB = DefaultMemMB
	}
	if a.KillSelection == "" {
		a.KillSelection = YoungestFirst
	}
	for i := range a.HealthChecks {
		h := &a.HealthChecks[i]
		h.Protocol = Protocol(strings.ToUpper(string(h.Protocol)))
		if h.Protocol == HTTP && h.Path == "" {
			h.Path = "/"
		}
		if h.GracePeriod == 0 {
			h.GracePeriod = Duration(DefaultGracePeriod)
		}
		if h.Interval == 0 {
			h.Interval = Duration(DefaultInterval)
		}
		if h.Timeout == 0 {
			h.Timeout = Duration(min(DefaultTimeout, h.Interval.D()))
		}
	}
	if a.Backoff.Initial == 0 {
		a.Backoff.Initial = Duration(DefaultBackoffInitial)
	}
	if a.Backoff.Factor == 0 {
		a.Backoff.Factor = DefaultBackoffFactor
	}
	if a.Backoff.Max == 0 {
		a.Backoff.Max = Duration(max(DefaultBackoffMax, a.Backoff.Initial.D()))
	}
	if a.Backoff.ResetAfter == 0 {
		a.Backoff.ResetAfter = Duration(DefaultBackoffResetAfter)
	}
	if a.Unreachable.InactiveAfter == 0 {
		a.Unreachable.InactiveAfter = Duration(DefaultInactiveAfter)
	}
	if a.Unreachable.ExpungeAfter == 0 {
		a.Unreachable.ExpungeAfter = Duration(max(DefaultExpungeAfter, a.Unreachable.InactiveAfter.D()))
	}
	if a.Upgrade.MinHealthCapacity == nil {
		a.Upgrade.MinHealthCapacity = Float(1)
	}
	if a.Upgrade.MaxOverCapacity == nil {
		a.Upgrade.MaxOverCapacity = Float(1)
	}
	for i := range a.HealthChecks {
		if a.HealthChecks[i].MaxConsecutiveFailures == nil {
			a.HealthChecks[i].MaxConsecutiveFailures = Int(DefaultMaxConsecutiveFailures)
		}
	}
}

// ConfigHash identifies what the instances run: everything but
// Instances. Two specs with the same hash need no restart to go from one
// to the other.
func (a App) ConfigHash() string {
	a.Instances = 0
	b, _ := json.Marshal(a)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// NamedPortEnv returns the PORT_<NAME> variable for port i, or "".
func (a App) NamedPortEnv(i int) string {
	if i >= len(a.Ports) || a.Ports[i].Name == "" {
		return ""
	}
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, a.Ports[i].Name)
	return "PORT_" + name
}

// Clone returns a deep copy.
func (a App) Clone() App {
	b, err := json.Marshal(a)
	if err != nil {
		panic(fmt.Sprintf("spec: clone: %v", err))
	}
	var out App
	if err := json.Unmarshal(b, &out); err != nil {
		panic(fmt.Sprintf("spec: clone: %v", err))
	}
	return out
}
