package constraint_test

import (
	"fmt"

	"github.com/agora-cluster/agora/sdk/constraint"
)

// Check decides whether one more task may go on an agent, given the
// agents its other tasks already run on.
func ExampleConstraint_Check() {
	unique := constraint.MustParse("hostname:UNIQUE")
	placed := []constraint.Target{{Hostname: "agent1"}}

	fmt.Println(unique.Check(constraint.Target{Hostname: "agent2"}, placed))
	fmt.Println(unique.Check(constraint.Target{Hostname: "agent1"}, placed))
	// Output:
	// <nil>
	// constraint hostname:UNIQUE: hostname "agent1" already runs an instance
}

// CheckAll applies an application's constraints together; attributes
// are matched by name.
func ExampleCheckAll() {
	cs, err := constraint.ParseAll([]string{"zone:LIKE:us-east-.*", "rack:MAX_PER:2"})
	if err != nil {
		panic(err)
	}
	placed := []constraint.Target{
		{Hostname: "a1", Attributes: map[string]string{"zone": "us-east-1", "rack": "r1"}},
		{Hostname: "a2", Attributes: map[string]string{"zone": "us-east-1", "rack": "r1"}},
	}
	for _, t := range []constraint.Target{
		{Hostname: "a3", Attributes: map[string]string{"zone": "us-east-2", "rack": "r2"}},
		{Hostname: "a4", Attributes: map[string]string{"zone": "us-east-2", "rack": "r1"}},
		{Hostname: "a5", Attributes: map[string]string{"zone": "eu-west-1", "rack": "r3"}},
	} {
		fmt.Println(t.Hostname, constraint.CheckAll(cs, t, placed))
	}
	// Output:
	// a3 <nil>
	// a4 constraint rack:MAX_PER:2: rack "r1" already runs 2 instance(s), the most allowed
	// a5 constraint zone:LIKE:us-east-.*: zone "eu-west-1" does not match "us-east-.*"
}

// Parse reads the "field:OPERATOR[:value]" form; a malformed constraint
// wraps ErrInvalid.
func ExampleParse() {
	c, err := constraint.Parse("rack:group_by:3")
	fmt.Println(c.Field, c.Operator, c.Value, err)
	_, err = constraint.Parse("rack")
	fmt.Println(err)
	// Output:
	// rack GROUP_BY 3 <nil>
	// invalid constraint "rack": want field:OPERATOR[:value]
}
