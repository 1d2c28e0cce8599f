package constraint

import (
	"errors"
	"strings"
	"testing"
)

func host(h string, attrs ...string) Target {
	t := Target{Hostname: h, Attributes: map[string]string{}}
	for i := 0; i+1 < len(attrs); i += 2 {
		t.Attributes[attrs[i]] = attrs[i+1]
	}
	return t
}

func TestParse(t *testing.T) {
	for _, ok := range []string{"hostname:UNIQUE", "rack:group_by", "rack:GROUP_BY:3", "zone:LIKE:us-.*", "zone:UNLIKE:a:b", "hostname:MAX_PER:2", "rack:CLUSTER", "rack:CLUSTER:r1"} {
		c, err := Parse(ok)
		if err != nil {
			t.Errorf("Parse(%q): %v", ok, err)
			continue
		}
		if back, err := Parse(c.String()); err != nil || back.String() != c.String() {
			t.Errorf("round trip of %q gave %q (%v)", ok, back.String(), err)
		}
	}
	if c := MustParse("zone:UNLIKE:a:b"); c.Value != "a:b" {
		t.Fatalf("value with a colon = %q", c.Value)
	}
	for bad, want := range map[string]string{
		"hostname":             "want field:OPERATOR",
		":UNIQUE":              "missing field",
		"hostname:UNIQUE:x":    "takes no value",
		"hostname:MAX_PER":     "positive number",
		"hostname:MAX_PER:0":   "positive number",
		"rack:GROUP_BY:x":      "positive number of groups",
		"zone:LIKE":            "regular expression",
		"zone:LIKE:(":          "missing closing",
		"hostname:SOMETIMES":   "unknown operator",
		"hostname:UNLIKE:[a-z": "missing closing",
	} {
		_, err := Parse(bad)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want ErrInvalid mentioning %q", bad, err, want)
		}
	}
	if _, err := ParseAll([]string{"hostname:UNIQUE", "x:NOPE"}); err == nil || !strings.HasPrefix(err.Error(), "[1]") {
		t.Fatalf("ParseAll error does not name the index: %v", err)
	}
}

// check is a table row: placing on target given placed.
type check struct {
	target Target
	placed []Target
	ok     bool
}

func run(t *testing.T, expr string, rows []check) {
	t.Helper()
	c := MustParse(expr)
	for i, r := range rows {
		err := c.Check(r.target, r.placed)
		if (err == nil) != r.ok {
			t.Errorf("%s row %d (%s on %v): err = %v, want ok=%v", expr, i, r.target.Hostname, r.placed, err, r.ok)
		}
		var v *Violation
		if err != nil && (!errors.As(err, &v) || !strings.Contains(err.Error(), expr)) {
			t.Errorf("%s row %d: error %q is not a Violation naming the constraint", expr, i, err)
		}
	}
}

func TestUnique(t *testing.T) {
	run(t, "hostname:UNIQUE", []check{
		{host("a"), nil, true},
		{host("a"), []Target{host("b")}, true},
		{host("a"), []Target{host("b"), host("a")}, false},
	})
	run(t, "rack:UNIQUE", []check{
		{host("a", "rack", "r1"), []Target{host("b", "rack", "r2")}, true},
		{host("a", "rack", "r1"), []Target{host("b", "rack", "r1")}, false},
		{host("a"), nil, false}, // no such attribute
	})
}

func TestCluster(t *testing.T) {
	run(t, "rack:CLUSTER:r1", []check{
		{host("a", "rack", "r1"), nil, true},
		{host("a", "rack", "r2"), nil, false},
		{host("a"), nil, false},
	})
	run(t, "rack:CLUSTER", []check{
		{host("a", "rack", "r2"), nil, true}, // first one picks
		{host("a", "rack", "r2"), []Target{host("b", "rack", "r2")}, true},
		{host("a", "rack", "r1"), []Target{host("b", "rack", "r2")}, false},
	})
	run(t, "hostname:CLUSTER:a", []check{
		{host("a"), nil, true},
		{host("b"), nil, false},
	})
}

func TestGroupBy(t *testing.T) {
	r := func(h, v string) Target { return host(h, "rack", v) }
	run(t, "rack:GROUP_BY", []check{
		{r("a", "r1"), nil, true},
		{r("b", "r2"), []Target{r("a", "r1")}, true},                              // new group
		{r("a", "r1"), []Target{r("a", "r1"), r("b", "r2")}, true},                // both hold 1
		{r("a", "r1"), []Target{r("a", "r1"), r("a", "r1"), r("b", "r2")}, false}, // r1 holds more
		{r("b", "r2"), []Target{r("a", "r1"), r("a", "r1"), r("b", "r2")}, true},
	})
	run(t, "rack:GROUP_BY:3", []check{
		{r("a", "r1"), []Target{r("a", "r1"), r("b", "r2")}, false}, // only 2 of 3 groups used
		{r("c", "r3"), []Target{r("a", "r1"), r("b", "r2")}, true},
		{r("a", "r1"), []Target{r("a", "r1"), r("b", "r2"), r("c", "r3")}, true},
	})
}

func TestLikeUnlike(t *testing.T) {
	run(t, "zone:LIKE:us-.*", []check{
		{host("a", "zone", "us-east"), nil, true},
		{host("a", "zone", "eu-west"), nil, false},
		{host("a", "zone", "xus-east"), nil, false}, // whole-field match
		{host("a"), nil, false},
	})
	run(t, "zone:UNLIKE:us-.*", []check{
		{host("a", "zone", "us-east"), nil, false},
		{host("a", "zone", "eu-west"), nil, true},
		{host("a"), nil, true}, // no attribute: not like
	})
	run(t, "hostname:LIKE:web[0-9]+", []check{
		{host("web12"), nil, true},
		{host("db1"), nil, false},
	})
}

func TestMaxPer(t *testing.T) {
	run(t, "hostname:MAX_PER:2", []check{
		{host("a"), []Target{host("a")}, true},
		{host("a"), []Target{host("a"), host("a")}, false},
		{host("b"), []Target{host("a"), host("a")}, true},
	})
}

func TestCheckAllAndLiterals(t *testing.T) {
	cs := []Constraint{{Field: "hostname", Operator: Unique}, {Field: "zone", Operator: Like, Value: "z1"}}
	if err := CheckAll(cs, host("a", "zone", "z1"), nil); err != nil {
		t.Fatal(err)
	}
	err := CheckAll(cs, host("a", "zone", "z2"), nil)
	var v *Violation
	if !errors.As(err, &v) || v.Constraint.Operator != Like {
		t.Fatalf("CheckAll = %v, want the LIKE violation", err)
	}
	bad := Constraint{Field: "x", Operator: "NOPE"}
	if err := bad.Check(host("a"), nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("malformed literal: %v", err)
	}
}
