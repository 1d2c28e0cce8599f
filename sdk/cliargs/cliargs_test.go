package cliargs

import (
	"reflect"
	"testing"

	"github.com/urfave/cli/v2"
)

// run runs `app set ARGS...` with Interspersed around the action and
// returns what the action saw.
func run(t *testing.T, args ...string) (pos []string, weight int, quota string, wait bool) {
	t.Helper()
	app := &cli.App{Name: "app", Commands: []*cli.Command{{
		Name: "set",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "weight", Value: 1},
			&cli.StringFlag{Name: "quota"},
			&cli.BoolFlag{Name: "wait", Aliases: []string{"w"}},
		},
		Action: Interspersed(func(c *cli.Context) error {
			pos, weight, quota, wait = c.Args().Slice(), c.Int("weight"), c.String("quota"), c.Bool("wait")
			return nil
		}),
	}}}
	if err := app.Run(append([]string{"app", "set"}, args...)); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return pos, weight, quota, wait
}

func TestInterspersed(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		pos    []string
		weight int
		quota  string
		wait   bool
	}{
		{[]string{"prod"}, []string{"prod"}, 1, "", false},
		{[]string{"--weight", "2", "prod"}, []string{"prod"}, 2, "", false},
		{[]string{"prod", "--weight", "3", "--quota", "cpus:10;mem:4096"}, []string{"prod"}, 3, "cpus:10;mem:4096", false},
		{[]string{"--quota", "cpus:1", "prod", "--weight", "4", "extra"}, []string{"prod", "extra"}, 4, "cpus:1", false},
		{[]string{"job.yaml", "-w"}, []string{"job.yaml"}, 1, "", true},
		{[]string{"a", "--", "-b"}, []string{"a", "-b"}, 1, "", false},
	} {
		pos, weight, quota, wait := run(t, tc.args...)
		if !reflect.DeepEqual(pos, tc.pos) || weight != tc.weight || quota != tc.quota || wait != tc.wait {
			t.Errorf("%q: got %q weight %d quota %q wait %v; want %q %d %q %v",
				tc.args, pos, weight, quota, wait, tc.pos, tc.weight, tc.quota, tc.wait)
		}
	}
}

func TestInterspersedRejectsUnknownFlag(t *testing.T) {
	app := &cli.App{Name: "app", Commands: []*cli.Command{{
		Name:   "set",
		Flags:  []cli.Flag{&cli.IntFlag{Name: "weight"}},
		Action: Interspersed(func(*cli.Context) error { return nil }),
	}}}
	if err := app.Run([]string{"app", "set", "prod", "--colour", "red"}); err == nil {
		t.Fatal("an unknown flag after the arguments was accepted")
	}
}
