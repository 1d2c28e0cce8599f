package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGoodFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/good/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no good files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			jobs, err := Parse(data, FormatOf(f))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(jobs) == 0 {
				t.Fatal("no jobs")
			}
			// Auto-detection gives the same result.
			again, err := Parse(data, Auto)
			if err != nil || len(again) != len(jobs) {
				t.Fatalf("Parse(Auto): %d jobs, %v", len(again), err)
			}
		})
	}
}

func TestFullFile(t *testing.T) {
	data, err := os.ReadFile("testdata/good/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := Parse(data, YAML)
	if err != nil {
		t.Fatal(err)
	}
	j := jobs[0]
	if j.Name != "nightly-report" || j.Instances != 10 || j.Parallelism != 4 {
		t.Errorf("name/instances/parallelism = %q/%d/%d", j.Name, j.Instances, j.Parallelism)
	}
	if j.Env["LEVEL"] != "3" {
		t.Errorf("env LEVEL = %q, want \"3\"", j.Env["LEVEL"])
	}
	if j.Resources.CPUs != 0.5 || j.Resources.MemMB != 256 || j.Resources.Ports != 1 {
		t.Errorf("resources = %+v", j.Resources)
	}
	if j.Retries.Limit != 3 || j.Retries.Backoff.D() != 5*time.Second || j.Retries.MaxBackoff.D() != 2*time.Minute {
		t.Errorf("retries = %+v", j.Retries)
	}
	if j.Timeout.Task.D() != 10*time.Minute || j.Timeout.Run.D() != time.Hour || j.KillGrace.D() != 15*time.Second {
		t.Errorf("timeouts = %+v, kill grace %s", j.Timeout, j.KillGrace)
	}
	if len(j.Constraints) != 3 || j.Constraints[2].Operator != OpUnique {
		t.Errorf("constraints = %+v", j.Constraints)
	}
	s := j.Schedule
	if s == nil || s.Cron != "0 3 * * *" || s.Timezone != "Europe/Berlin" || s.ConcurrencyPolicy != Forbid || s.StartingDeadline.D() != 5*time.Minute {
		t.Errorf("schedule = %+v", s)
	}
}

func TestDefaults(t *testing.T) {
	jobs, err := Parse([]byte(`{"name":"d","command":"true","instances":5,"schedule":{"cron":"@hourly"}}`), JSON)
	if err != nil {
		t.Fatal(err)
	}
	j := jobs[0]
	if j.Parallelism != 5 || j.Resources.CPUs != DefaultCPUs || j.Resources.MemMB != DefaultMemMB {
		t.Errorf("defaults not applied: %+v", j)
	}
	if j.Retries.Backoff != DefaultBackoff || j.Retries.MaxBackoff != DefaultMaxBackoff {
		t.Errorf("retry defaults: %+v", j.Retries)
	}
	if j.Schedule.Timezone != "UTC" || j.Schedule.ConcurrencyPolicy != Allow || j.Schedule.StartingDeadline != DefaultStartingDeadline {
		t.Errorf("schedule defaults: %+v", j.Schedule)
	}
	// A canonical job validates again unchanged.
	again, err := Validate(j)
	if err != nil {
		t.Fatalf("Validate(canonical): %v", err)
	}
	if again.Parallelism != j.Parallelism || again.Schedule.Timezone != "UTC" {
		t.Errorf("Validate changed the job: %+v", again)
	}
}

func TestMultiJobFiles(t *testing.T) {
	data, _ := os.ReadFile("testdata/good/dag.yaml")
	jobs, err := Parse(data, YAML)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 3 || jobs[2].Name != "load" || len(jobs[2].DependsOn) != 2 {
		t.Fatalf("jobs = %+v", jobs)
	}
	data, _ = os.ReadFile("testdata/good/multidoc.yaml")
	jobs, err = Parse(data, YAML)
	if err != nil || len(jobs) != 2 || jobs[1].DependsOn[0] != "a" {
		t.Fatalf("multidoc: %+v, %v", jobs, err)
	}
}

// TestBadInput checks that each bad input is rejected with the field path
// and reason.
func TestBadInput(t *testing.T) {
	cases := []struct {
		name, in string
		want     []string // substrings of the error, each must appear
	}{
		{"unknown field", "name: x\ncommand: \"true\"\nretries:\n  limit: 1\n  bakoff: 1s\n",
			[]string{"line 5: retries.bakoff: unknown field", `did you mean "backoff"`}},
		{"unknown top field", `{"name":"x","command":"true","colour":"red"}`, []string{"colour: unknown field"}},
		{"missing name", "command: \"true\"\n", []string{"name: is required"}},
		{"bad name", "name: Bad_Name\ncommand: x\n", []string{"name: \"Bad_Name\" must be lower-case"}},
		{"no command", "name: x\n", []string{"command: is required"}},
		{"command and args", "name: x\ncommand: a\nargs: [b]\n", []string{"args: give either command"}},
		{"empty program", "name: x\nargs: [\"\"]\n", []string{"args[0]: the program must not be empty"}},
		{"instances zero", "name: x\ncommand: a\ninstances: 0\n", []string{"instances: must be between 1"}},
		{"instances string", "name: x\ncommand: a\ninstances: \"3\"\n", []string{"instances: must be an integer"}},
		{"instances float", "name: x\ncommand: a\ninstances: 2.5\n", []string{"instances: must be an integer"}},
		{"parallelism too big", "name: x\ncommand: a\ninstances: 2\nparallelism: 3\n", []string{"parallelism: must not exceed instances (2)"}},
		{"cpus negative", "name: x\ncommand: a\nresources: {cpus: -1}\n", []string{"resources.cpus: must not be negative"}},
		{"cpus zero", "name: x\ncommand: a\nresources: {cpus: 0}\n", []string{"resources.cpus: must be more than 0"}},
		{"cpus nan", "name: x\ncommand: a\nresources: {cpus: NaN}\n", []string{"resources.cpus: must be a finite number"}},
		{"mem text", `{"name":"x","command":"a","resources":{"mem":"lots"}}`, []string{"resources.mem: must be a number"}},
		{"ports too many", "name: x\ncommand: a\nresources: {ports: 1000}\n", []string{"resources.ports: must be between 0 and 100"}},
		{"retries negative", "name: x\ncommand: a\nretries: {limit: -1}\n", []string{"retries.limit: must be between 0"}},
		{"bad backoff", "name: x\ncommand: a\nretries: {limit: 1, backoff: 5}\n", []string{"retries.backoff: invalid duration \"5\""}},
		{"backoff above max", "name: x\ncommand: a\nretries: {backoff: 1m, max_backoff: 1s}\n", []string{"retries.max_backoff: must not be less than"}},
		{"negative timeout", "name: x\ncommand: a\ntimeout: {task: -5s}\n", []string{"timeout.task: must not be negative"}},
		{"constraint op", "name: x\ncommand: a\nconstraints:\n  - {attribute: zone, operator: IS, value: a}\n", []string{"constraints[0].operator: unknown operator \"IS\" (want EQ, NEQ, EXISTS"}},
		{"constraint no value", "name: x\ncommand: a\nconstraints: [{attribute: zone, operator: EQ}]\n", []string{"constraints[0].value: is required for EQ"}},
		{"constraint bad regex", "name: x\ncommand: a\nconstraints: [{attribute: zone, operator: LIKE, value: \"(\"}]\n", []string{"constraints[0].value: error parsing regexp"}},
		{"unique with value", "name: x\ncommand: a\nconstraints: [{attribute: host, operator: UNIQUE, value: a}]\n", []string{"constraints[0].value: UNIQUE takes no value"}},
		{"max per no number", "name: x\ncommand: a\nconstraints: [{attribute: rack, operator: MAX_PER, value: lots}]\n", []string{"constraints[0].value: MAX_PER needs a positive number"}},
		{"depends on self", "name: x\ncommand: a\ndepends_on: [x]\n", []string{"depends_on[0]: a job cannot depend on itself"}},
		{"depends twice", "name: x\ncommand: a\ndepends_on: [y, y]\n", []string{"depends_on[1]: \"y\" is listed twice"}},
		{"depends not list", "name: x\ncommand: a\ndepends_on: y\n", []string{"depends_on: must be a list"}},
		{"bad cron", "name: x\ncommand: a\nschedule: {cron: \"61 * * * *\"}\n", []string{"schedule.cron: invalid cron expression"}},
		{"cron tz inline", "name: x\ncommand: a\nschedule: {cron: \"CRON_TZ=UTC 0 * * * *\"}\n", []string{"schedule.cron: invalid cron", "schedule.timezone"}},
		{"bad zone", "name: x\ncommand: a\nschedule: {cron: \"@daily\", timezone: Mars/Olympus}\n", []string{"schedule.timezone: unknown time zone \"Mars/Olympus\""}},
		{"bad policy", "name: x\ncommand: a\nschedule: {cron: \"@daily\", concurrency_policy: SOMETIMES}\n", []string{"schedule.concurrency_policy: unknown policy"}},
		{"zero deadline", "name: x\ncommand: a\nschedule: {cron: \"@daily\", starting_deadline: 0s}\n", []string{"schedule.starting_deadline: must be more than 0"}},
		{"schedule and depends", "name: x\ncommand: a\ndepends_on: [y]\nschedule: {cron: \"@daily\"}\n", []string{"schedule: a job with depends_on"}},
		{"reserved env", "name: x\ncommand: a\nenv: {BATCH_JOB: y}\n", []string{"env.BATCH_JOB: variables starting with BATCH_"}},
		{"bad env name", "name: x\ncommand: a\nenv: {\"A-B\": y}\n", []string{"env.A-B: \"A-B\" is not a valid"}},
		{"duplicate key", "name: x\ncommand: a\ncommand: b\n", []string{"line 3: command: given twice"}},
		{"duplicate key json", `{"name":"x","command":"a","command":"b"}`, []string{"command: given twice"}},
		{"sim exit", "name: x\ncommand: a\nsimulate: {exit_code: 300}\n", []string{"simulate.exit_code: must be between 0 and 255"}},
		{"job not a map", "- 1\n- 2\n", []string{"[0]: a job must be a mapping"}},
		{"jobs with more", "jobs: []\nname: x\n", []string{"name: a file with \"jobs\" may hold nothing else"}},
		{"dup job names", "jobs:\n  - {name: a, command: x}\n  - {name: a, command: y}\n", []string{"jobs[1].name: job \"a\" is also defined at jobs[0]"}},
		{"path in list", "jobs:\n  - {name: a, command: x}\n  - {name: b, command: y, instances: -2}\n", []string{"line 3: jobs[1].instances: must be between 1"}},
		{"yaml syntax", "name: [x\n", []string{"YAML:"}},
		{"json syntax", `{"name": "x",}`, []string{"JSON:"}},
		{"json trailing", `{"name": "x", "command": "a"} {}`, []string{"unexpected data after the document"}},
		{"empty", "", []string{"no job in the file"}},
		{"merge key", "base: &b {command: x}\nname: y\n<<: *b\n", []string{"merge keys"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.in), Auto)
			if err == nil {
				t.Fatalf("accepted:\n%s", c.in)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\n  lacks %q", err, w)
				}
			}
		})
	}
}

// TestAllErrorsAtOnce checks that one file's problems are all reported.
func TestAllErrorsAtOnce(t *testing.T) {
	data, _ := os.ReadFile("testdata/bad/many.json")
	_, err := Parse(data, JSON)
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error is %T, not Errors: %v", err, err)
	}
	// The mem value is the wrong kind: decoding errors stop validation,
	// so this file reports that one.
	if len(es) != 1 || es[0].Path != "resources.mem" || es[0].Line != 5 {
		t.Fatalf("errors = %+v", es)
	}
	fixed := strings.Replace(string(data), `"lots"`, "64", 1)
	_, err = Parse([]byte(fixed), JSON)
	if !errors.As(err, &es) {
		t.Fatalf("error is %T: %v", err, err)
	}
	paths := map[string]bool{}
	for _, e := range es {
		paths[e.Path] = true
	}
	for _, p := range []string{"name", "instances", "resources.cpus", "schedule.cron", "schedule.timezone", "schedule.concurrency_policy"} {
		if !paths[p] {
			t.Errorf("no error for %s in %v", p, es)
		}
	}
	data, _ = os.ReadFile("testdata/bad/unknown-field.yaml")
	if _, err := Parse(data, YAML); err == nil || !strings.Contains(err.Error(), "retries.bakoff") {
		t.Errorf("unknown-field.yaml: %v", err)
	}
}

func TestBackoff(t *testing.T) {
	r := Retries{Limit: 5, Backoff: Duration(time.Second), MaxBackoff: Duration(5 * time.Second)}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i, w := range want {
		if got := r.BackoffFor(i + 1); got != w {
			t.Errorf("BackoffFor(%d) = %s, want %s", i+1, got, w)
		}
	}
}

func TestValidateInCode(t *testing.T) {
	if _, err := Validate(Job{Name: "ok", Command: "true"}); err != nil {
		t.Fatal(err)
	}
	if _, err := Validate(Job{Name: "ok", Command: "true", Instances: -1}); err == nil {
		t.Fatal("negative instances accepted")
	}
}
