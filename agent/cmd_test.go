package agent

import (
	"errors"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/agora-cluster/agora/agent/resources"
)

// parseAgentFlags runs `agora agent args...` with an action that only
// builds the configuration.
func parseAgentFlags(t *testing.T, args ...string) (Config, error) {
	t.Helper()
	cmd := Command()
	var cfg Config
	cmd.Action = func(c *cli.Context) (err error) {
		cfg, err = configFromFlags(c)
		return err
	}
	app := &cli.App{Name: "agora", Commands: []*cli.Command{cmd}}
	err := app.Run(append([]string{"agora", "agent", "--nats", "nats://127.0.0.1:4222", "--work-dir", t.TempDir()}, args...))
	return cfg, err
}

func TestAgentFlagsDefaults(t *testing.T) {
	cfg, err := parseAgentFlags(t)
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultConfig()
	if cfg.UpdateBackoffMin != d.UpdateBackoffMin || cfg.UpdateBackoffMax != d.UpdateBackoffMax || cfg.SandboxGCDelay != d.SandboxGCDelay || cfg.KillGrace != d.KillGrace {
		t.Fatalf("defaults: backoff %s..%s, gc %s, grace %s", cfg.UpdateBackoffMin, cfg.UpdateBackoffMax, cfg.SandboxGCDelay, cfg.KillGrace)
	}
	if cfg.UpdateBackoffMin != time.Second || cfg.UpdateBackoffMax != time.Minute {
		t.Fatalf("update backoff defaults %s..%s, want 1s..1m", cfg.UpdateBackoffMin, cfg.UpdateBackoffMax)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestAgentFlagsBackoffAndGC(t *testing.T) {
	cfg, err := parseAgentFlags(t, "--update-backoff-min", "250ms", "--update-backoff-max", "10s", "--sandbox-gc-delay", "0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.UpdateBackoffMin != 250*time.Millisecond || cfg.UpdateBackoffMax != 10*time.Second || cfg.SandboxGCDelay != 0 {
		t.Fatalf("backoff %s..%s, gc %s", cfg.UpdateBackoffMin, cfg.UpdateBackoffMax, cfg.SandboxGCDelay)
	}
	cfg, err = parseAgentFlags(t, "--update-backoff-min", "2s", "--update-backoff-max", "1s")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Validate() == nil {
		t.Fatal("a backoff with min > max passed validation")
	}
}

func TestAgentFlagsRejectBadValues(t *testing.T) {
	for _, args := range [][]string{
		{"--resources", "cpus:x"},
		{"--ports", "32000-31000"},
		{"--attributes", "rack"},
		{"--log-level", "loud"},
		{"--update-backoff-min", "soon"},
	} {
		if _, err := parseAgentFlags(t, args...); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}

func TestGCEvery(t *testing.T) {
	for _, c := range []struct{ delay, want time.Duration }{
		{0, time.Minute}, {24 * time.Hour, time.Minute}, {10 * time.Second, 10 * time.Second}, {time.Millisecond, time.Second},
	} {
		if got := gcEvery(c.delay); got != c.want {
			t.Errorf("gcEvery(%s) = %s, want %s", c.delay, got, c.want)
		}
	}
}

// TestAgentRefusesNoCPUsOrMemory: "cpus:0" or "mem:0" given on the command
// line is taken as it is, not replaced by what is detected, and the agent
// refuses to start without cpus or memory.
func TestAgentRefusesNoCPUsOrMemory(t *testing.T) {
	for _, res := range []string{"cpus:0;mem:0", "cpus:0", "mem:0", "cpus:0;mem:1024;disk:10"} {
		cfg, err := parseAgentFlags(t, "--resources", res)
		if err != nil {
			t.Fatalf("%s: %v", res, err)
		}
		a, err := Start(cfg)
		if err == nil {
			a.Stop(false)
			t.Fatalf("%s: agent started with %s", res, a.Info().Resources)
		}
		if !errors.Is(err, ErrNoResources) {
			t.Fatalf("%s: %v, want ErrNoResources", res, err)
		}
	}
}

func TestAgentResourcesFlag(t *testing.T) {
	cfg, err := parseAgentFlags(t, "--resources", "cpus:2;disk:0", "--ports", "31000-31009", "--attributes", "rack:r1;zone:a")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Resources.CPUs != 2 || cfg.ResourcesGiven != (resources.Given{CPUs: true, DiskMB: true}) {
		t.Fatalf("resources %v given %+v", cfg.Resources, cfg.ResourcesGiven)
	}
	if got := cfg.Resources.Ports.List(); len(got) != 10 || got[0] != 31000 {
		t.Fatalf("ports %v", got)
	}
	if cfg.Attributes["rack"] != "r1" || cfg.Attributes["zone"] != "a" {
		t.Fatalf("attributes %v", cfg.Attributes)
	}
}
