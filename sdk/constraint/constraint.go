// Package constraint evaluates placement constraints, as Marathon does:
// rules on an agent's hostname or attributes that decide whether one more
// task of an application may be placed on an offer's agent, given where
// the application's other tasks already run.
//
// A constraint is written "field:OPERATOR[:value]", for example
// "hostname:UNIQUE", "rack:GROUP_BY:3", "zone:LIKE:us-east-.*" or
// "hostname:MAX_PER:2". The field "hostname" (or "@hostname") means the
// agent's hostname; any other field names an agent attribute.
//
// Evaluation is pure: [Constraint.Check] looks only at its arguments, so
// framework authors can use this package in their own schedulers and test
// it without a cluster.
package constraint

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Operator is a constraint operator.
type Operator string

// Operators.
const (
	// Unique allows at most one task per distinct value of the field.
	Unique Operator = "UNIQUE"
	// Cluster places every task on agents with the same value: the
	// constraint's value if given, else the value of the first task placed.
	Cluster Operator = "CLUSTER"
	// GroupBy spreads tasks evenly over the field's values. An optional
	// value is the number of distinct values to expect before a value may
	// be used twice.
	GroupBy Operator = "GROUP_BY"
	// Like requires the field to match the value, a regular expression
	// that must match the whole field.
	Like Operator = "LIKE"
	// Unlike requires the field not to match the value (a regular
	// expression, whole-field). An agent without the attribute passes.
	Unlike Operator = "UNLIKE"
	// MaxPer allows at most value tasks per distinct value of the field.
	MaxPer Operator = "MAX_PER"
)

// Hostname is the field that means the agent's hostname.
const Hostname = "hostname"

// ErrInvalid is wrapped by every error about a malformed constraint.
var ErrInvalid = errors.New("invalid constraint")

// Constraint is one placement rule.
type Constraint struct {
	Field    string   `json:"field"`           // "hostname" or an attribute name
	Operator Operator `json:"operator"`        // one of the operators above
	Value    string   `json:"value,omitempty"` // the operator's argument: a regexp, a count or a value

	re       *regexp.Regexp
	n        int
	compiled bool
}

// Target is an agent a task may be placed on, or runs on.
type Target struct {
	Hostname   string            `json:"hostname"`             // the agent's hostname (field "hostname")
	Attributes map[string]string `json:"attributes,omitempty"` // the agent's attributes, by name
}

// Value returns the target's value for field and whether it has one.
func (t Target) Value(field string) (string, bool) {
	if field == Hostname || field == "@"+Hostname {
		return t.Hostname, t.Hostname != ""
	}
	v, ok := t.Attributes[field]
	return v, ok
}

// Violation says why a target fails a constraint.
type Violation struct {
	Constraint Constraint // the constraint the target fails
	Reason     string     // why, naming the field's value
}

// Error names the constraint and the reason.
func (v *Violation) Error() string {
	return fmt.Sprintf("constraint %s: %s", v.Constraint, v.Reason)
}

// Parse parses "field:OPERATOR[:value]". The value may itself contain
// colons. Operators are case-insensitive.
func Parse(s string) (Constraint, error) {
	parts := strings.SplitN(strings.TrimSpace(s), ":", 3)
	if len(parts) < 2 {
		return Constraint{}, fmt.Errorf("%w %q: want field:OPERATOR[:value]", ErrInvalid, s)
	}
	c := Constraint{Field: strings.TrimSpace(parts[0]), Operator: Operator(strings.ToUpper(strings.TrimSpace(parts[1])))}
	if len(parts) == 3 {
		c.Value = parts[2]
	}
	if err := c.compile(); err != nil {
		return Constraint{}, err
	}
	return c, nil
}

// MustParse is Parse for constants; it panics on error.
func MustParse(s string) Constraint {
	c, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return c
}

// ParseAll parses a list, naming the index of the first bad entry.
func ParseAll(list []string) ([]Constraint, error) {
	out := make([]Constraint, 0, len(list))
	for i, s := range list {
		c, err := Parse(s)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// String formats c as it is parsed.
func (c Constraint) String() string {
	if c.Value == "" {
		return c.Field + ":" + string(c.Operator)
	}
	return c.Field + ":" + string(c.Operator) + ":" + c.Value
}

// Validate checks the operator and its value.
func (c *Constraint) Validate() error { return c.compile() }

// compile validates c and caches its parsed value.
func (c *Constraint) compile() error {
	if c.Field == "" {
		return fmt.Errorf("%w %q: missing field", ErrInvalid, c.String())
	}
	switch c.Operator {
	case Unique:
		if c.Value != "" {
			return fmt.Errorf("%w %q: UNIQUE takes no value", ErrInvalid, c.String())
		}
	case Cluster:
	case GroupBy:
		if c.Value != "" {
			n, err := strconv.Atoi(c.Value)
			if err != nil || n < 1 {
				return fmt.Errorf("%w %q: GROUP_BY value must be a positive number of groups", ErrInvalid, c.String())
			}
			c.n = n
		}
	case MaxPer:
		n, err := strconv.Atoi(c.Value)
		if err != nil || n < 1 {
			return fmt.Errorf("%w %q: MAX_PER needs a positive number", ErrInvalid, c.String())
		}
		c.n = n
	case Like, Unlike:
		if c.Value == "" {
			return fmt.Errorf("%w %q: %s needs a regular expression", ErrInvalid, c.String(), c.Operator)
		}
		re, err := regexp.Compile("^(?:" + c.Value + ")$")
		if err != nil {
			return fmt.Errorf("%w %q: %v", ErrInvalid, c.String(), err)
		}
		c.re = re
	default:
		return fmt.Errorf("%w %q: unknown operator %q (want UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE or MAX_PER)",
			ErrInvalid, c.String(), string(c.Operator))
	}
	c.compiled = true
	return nil
}

// Check reports whether one more task may be placed on target, given the
// targets of the tasks already placed (including those placed earlier in
// the same round). It returns nil or a *Violation. A constraint built as
// a literal rather than by Parse is compiled on first use; if it is
// malformed, Check returns its validation error.
func (c Constraint) Check(target Target, placed []Target) error {
	if !c.compiled {
		if err := c.compile(); err != nil {
			return err
		}
	}
	v, ok := target.Value(c.Field)
	violate := func(format string, args ...any) error {
		return &Violation{Constraint: c, Reason: fmt.Sprintf(format, args...)}
	}
	if !ok && c.Operator != Unlike {
		return violate("agent %s has no attribute %q", target.Hostname, c.Field)
	}
	counts := map[string]int{}
	for _, p := range placed {
		if pv, ok := p.Value(c.Field); ok {
			counts[pv]++
		}
	}
	switch c.Operator {
	case Unique:
		if counts[v] > 0 {
			return violate("%s %q already runs an instance", c.Field, v)
		}
	case MaxPer:
		if counts[v] >= c.n {
			return violate("%s %q already runs %d instance(s), the most allowed", c.Field, v, counts[v])
		}
	case Cluster:
		want := c.Value
		if want == "" {
			for _, p := range placed {
				if pv, ok := p.Value(c.Field); ok {
					want = pv
					break
				}
			}
		}
		if want != "" && v != want {
			return violate("%s is %q, want %q", c.Field, v, want)
		}
	case Like:
		if !c.re.MatchString(v) {
			return violate("%s %q does not match %q", c.Field, v, c.Value)
		}
	case Unlike:
		if ok && c.re.MatchString(v) {
			return violate("%s %q matches %q", c.Field, v, c.Value)
		}
	case GroupBy:
		return c.checkGroupBy(v, counts, violate)
	}
	return nil
}

// checkGroupBy follows Marathon: a value not used yet is always fine; a
// used value is fine when there are at least n groups and it holds the
// fewest tasks.
func (c Constraint) checkGroupBy(v string, counts map[string]int, violate func(string, ...any) error) error {
	n, used := counts[v]
	if !used {
		return nil
	}
	least := n
	for _, k := range counts {
		least = min(least, k)
	}
	if len(counts) < c.n {
		return violate("%s %q already runs %d instance(s) and only %d of %d groups are used", c.Field, v, n, len(counts), c.n)
	}
	if n > least {
		return violate("%s %q runs %d instance(s), more than the smallest group (%d)", c.Field, v, n, least)
	}
	return nil
}

// CheckAll checks every constraint and returns the first violation.
func CheckAll(cs []Constraint, target Target, placed []Target) error {
	for _, c := range cs {
		if err := c.Check(target, placed); err != nil {
			return err
		}
	}
	return nil
}
