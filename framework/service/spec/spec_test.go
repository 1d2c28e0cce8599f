package spec

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

const fullYAML = `
id: web
cmd: ./server --port $PORT0
env: {GREETING: hi}
resources: {cpus: 0.5, mem: 128}
instances: 3
ports:
  - name: http
  - {name: admin, port: 8081}
constraints:
  - hostname:UNIQUE
  - [rack, GROUP_BY, "2"]
health_checks:
  - protocol: http
    path: /health
    interval: 2s
    timeout: 1s
    grace_period: 5s
    max_consecutive_failures: 2
  - {protocol: TCP, port_index: 1}
  - {protocol: COMMAND, command: "test -n \"$PORT0\""}
kill_grace: 3s
backoff: {initial: 500ms, factor: 1.5, max: 10s}
upgrade: {min_health_capacity: 0.5, max_over_capacity: 0.2, deadline: 2m, auto_rollback: true}
unreachable: {inactive_after: 30s, expunge_after: 1m}
labels: {team: core}
`

func TestParseYAML(t *testing.T) {
	a, err := Parse([]byte(fullYAML))
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != "web" || a.Instances != 3 || a.Resources.CPUs != 0.5 || a.Env["GREETING"] != "hi" {
		t.Fatalf("app = %+v", a)
	}
	if len(a.Ports) != 2 || a.Ports[0].Port != 0 || a.Ports[1].Port != 8081 {
		t.Fatalf("ports = %+v", a.Ports)
	}
	if a.Constraints[1] != "rack:GROUP_BY:2" {
		t.Fatalf("array constraint = %q", a.Constraints[1])
	}
	h := a.HealthChecks[0]
	if h.Protocol != HTTP || h.Interval.D() != 2*time.Second || h.MaxFailures() != 2 || h.GracePeriod.D() != 5*time.Second {
		t.Fatalf("check = %+v", h)
	}
	if a.HealthChecks[1].Interval.D() != DefaultInterval || a.HealthChecks[1].MaxFailures() != DefaultMaxConsecutiveFailures {
		t.Fatalf("check defaults = %+v", a.HealthChecks[1])
	}
	if a.Upgrade.MinHealth() != 0.5 || a.Upgrade.MaxOver() != 0.2 || !a.Upgrade.AutoRollback || a.Upgrade.Deadline.D() != 2*time.Minute {
		t.Fatalf("upgrade = %+v", a.Upgrade)
	}
	if a.KillGrace.D() != 3*time.Second || a.Backoff.Factor != 1.5 || a.Unreachable.ExpungeAfter.D() != time.Minute {
		t.Fatalf("app = %+v", a)
	}
	if a.NamedPortEnv(0) != "PORT_HTTP" || a.NamedPortEnv(1) != "PORT_ADMIN" {
		t.Fatalf("named port env %q %q", a.NamedPortEnv(0), a.NamedPortEnv(1))
	}
}

func TestParseJSONAndDefaults(t *testing.T) {
	a, err := Parse([]byte(`{"id":"api","args":["/bin/sleep","100"],"ports":[0]}`))
	if err != nil {
		t.Fatal(err)
	}
	if a.Instances != 1 {
		t.Fatalf("instances default = %d, want 1", a.Instances)
	}
	if a.Resources.CPUs != DefaultCPUs || a.Resources.MemMB != DefaultMemMB || a.KillSelection != YoungestFirst {
		t.Fatalf("defaults = %+v", a)
	}
	if a.Upgrade.MinHealth() != 1 || a.Upgrade.MaxOver() != 1 || a.Backoff.Initial.D() != DefaultBackoffInitial {
		t.Fatalf("defaults = %+v", a)
	}
	if len(a.Ports) != 1 || a.Ports[0].Port != 0 {
		t.Fatalf("numeric port shorthand = %+v", a.Ports)
	}
	zero, err := Parse([]byte("id: z\ncmd: sleep 1\ninstances: 0\n"))
	if err != nil || zero.Instances != 0 {
		t.Fatalf("explicit 0 instances: %+v, %v", zero.Instances, err)
	}
}

// TestErrorsNameTheField checks that every kind of mistake is reported
// with the path of the field it is about.
func TestErrorsNameTheField(t *testing.T) {
	cases := []struct {
		doc   string
		field string
		msg   string
	}{
		{"id: a\ncmd: x\ninstanses: 2\n", "instanses", "unknown field"},
		{"id: a\ncmd: x\nhealth_checks: [{protocol: TCP, intervl: 1s}]\nports: [0]\n", "health_checks[0].intervl", "unknown field"},
		{"id: a\ncmd: x\ninstances: two\n", "instances", "whole number"},
		{"id: a\ncmd: x\ninstances: 1.5\n", "instances", "whole number"},
		{"id: a\ncmd: x\nkill_grace: 10\n", "kill_grace", "duration"},
		{"id: a\ncmd: x\nkill_grace: soon\n", "kill_grace", "invalid duration"},
		{"id: a\ncmd: x\nresources: {cpus: lots}\n", "resources.cpus", "want a number"},
		{"id: a\ncmd: x\nenv: [a]\n", "env", "mapping"},
		{`{"id":"a","cmd":"x","upgrade":{"auto_rollback":"yes"}}`, "upgrade.auto_rollback", "true or false"},
		{"id: A B\ncmd: x\n", "id", "lower-case"},
		{"cmd: x\n", "id", "required"},
		{"id: a\n", "cmd", "one of cmd or args"},
		{"id: a\ncmd: x\nargs: [y]\n", "args", "not both"},
		{"id: a\ncmd: x\ninstances: -1\n", "instances", "between 0"},
		{"id: a\ncmd: x\nresources: {cpus: -1}\n", "resources.cpus", "positive"},
		{"id: a\ncmd: x\nports: [{port: 70000}]\n", "ports[0].port", "65535"},
		{"id: a\ncmd: x\nports: [80, 80]\n", "ports[1].port", "twice"},
		{"id: a\ncmd: x\nconstraints: [hostname:UNIQUE, rack:SOMETIMES]\n", "constraints[1]", "unknown operator"},
		{"id: a\ncmd: x\nhealth_checks: [{protocol: HTTP}]\n", "health_checks[0].protocol", "need the app to have ports"},
		{"id: a\ncmd: x\nports: [0]\nhealth_checks: [{protocol: TCP, port_index: 3}]\n", "health_checks[0].port_index", "out of range"},
		{"id: a\ncmd: x\nhealth_checks: [{protocol: COMMAND}]\n", "health_checks[0].command", "required"},
		{"id: a\ncmd: x\nhealth_checks: [{protocol: COMMAND, command: x}, {protocol: COMMAND, command: y}]\n", "health_checks[1].protocol", "only one COMMAND check"},
		{"id: a\ncmd: x\nhealth_checks: [{protocol: UDP}]\n", "health_checks[0].protocol", "want HTTP"},
		{"id: a\ncmd: x\nhealth_checks: [{protocol: COMMAND, command: x, interval: 1s, timeout: 2s}]\n", "health_checks[0].timeout", "exceed"},
		{"id: a\ncmd: x\nupgrade: {min_health_capacity: 1.5}\n", "upgrade.min_health_capacity", "between 0 and 1"},
		{"id: a\ncmd: x\nupgrade: {auto_rollback: true}\n", "upgrade.auto_rollback", "deadline"},
		{"id: a\ncmd: x\nbackoff: {factor: 0.5}\n", "backoff.factor", "at least 1"},
		{"id: a\ncmd: x\nunreachable: {inactive_after: 1m, expunge_after: 10s}\n", "unreachable.expunge_after", "at least"},
		{"id: a\ncmd: x\nkill_selection: RANDOM\n", "kill_selection", "YOUNGEST_FIRST"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.doc))
		var es Errors
		if !errors.As(err, &es) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: err = %v, want Errors", c.doc, err)
			continue
		}
		found := false
		for _, e := range es {
			if e.Field == c.field && strings.Contains(e.Message, c.msg) {
				found = true
			}
		}
		if !found {
			t.Errorf("%q: errors %v, want field %q with %q", c.doc, es, c.field, c.msg)
		}
	}
}

func TestParseRejectsGarbage(t *testing.T) {
	for _, doc := range []string{"", "[1,2]", "{not json", "a: [", "- x\n- y\n", `{"id":"a"} {}`} {
		if _, err := Parse([]byte(doc)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: err = %v, want ErrInvalid", doc, err)
		}
	}
}

func TestSuggestion(t *testing.T) {
	_, err := Parse([]byte("id: a\ncmd: x\nkill-grace: 1s\n"))
	if err == nil || !strings.Contains(err.Error(), `did you mean "kill_grace"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestConfigHashIgnoresInstances(t *testing.T) {
	a, _ := Parse([]byte("id: a\ncmd: x\ninstances: 2\n"))
	b := a.Clone()
	b.Instances = 5
	if a.ConfigHash() != b.ConfigHash() {
		t.Fatal("instances changed the config hash")
	}
	b.Env = map[string]string{"X": "1"}
	if a.ConfigHash() == b.ConfigHash() {
		t.Fatal("env did not change the config hash")
	}
}

// TestExampleSpec keeps the example in the README (testdata/web.yaml) valid.
func TestExampleSpec(t *testing.T) {
	data, err := os.ReadFile("testdata/web.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != "web" || len(a.HealthChecks) != 3 || a.Upgrade.MinHealth() != 0.5 {
		t.Fatalf("%+v", a)
	}
}
