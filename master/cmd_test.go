package master

import (
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

func TestCommandRejectsShortRaftTimeout(t *testing.T) {
	app := &cli.App{Name: "agora", Commands: []*cli.Command{Command()}}
	err := app.Run([]string{"agora", "master", "--name", "m1", "--data-dir", t.TempDir(),
		"--raft-addr", "127.0.0.1:0", "--http", "", "--raft-timeout", "10ms"})
	if err == nil || !strings.Contains(err.Error(), "--raft-timeout 10ms") {
		t.Fatalf("err = %v, want a --raft-timeout error", err)
	}
}

// flagsConfig runs `agora master ARGS...` up to the configuration it
// would start with.
func flagsConfig(t *testing.T, args ...string) (Config, error) {
	t.Helper()
	var cfg Config
	var err error
	cmd := Command()
	cmd.Action = func(c *cli.Context) error {
		cfg, err = configFromFlags(c)
		return nil
	}
	app := &cli.App{Name: "agora", Commands: []*cli.Command{cmd}}
	if runErr := app.Run(append([]string{"agora", "master", "--name", "m1", "--data-dir", t.TempDir(), "--raft-addr", "127.0.0.1:0"}, args...)); runErr != nil {
		t.Fatal(runErr)
	}
	return cfg, err
}

func TestOfferFlags(t *testing.T) {
	cfg, err := flagsConfig(t)
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultConfig()
	if cfg.DefaultRefuse != d.DefaultRefuse || cfg.MinAllocatable.CPUs != d.MinAllocatable.CPUs || cfg.MinAllocatable.MemMB != d.MinAllocatable.MemMB {
		t.Fatalf("defaults: refuse %s, min %s; want %s, %s", cfg.DefaultRefuse, cfg.MinAllocatable, d.DefaultRefuse, d.MinAllocatable)
	}
	cfg, err = flagsConfig(t, "--default-refuse", "30s", "--min-allocatable", "cpus:0.5;mem:256;disk:10")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DefaultRefuse != 30*time.Second || cfg.MinAllocatable.CPUs != 0.5 || cfg.MinAllocatable.MemMB != 256 || cfg.MinAllocatable.DiskMB != 10 {
		t.Fatalf("refuse %s, min %s", cfg.DefaultRefuse, cfg.MinAllocatable)
	}
	for _, bad := range [][]string{
		{"--default-refuse", "-1s"},
		{"--min-allocatable", "cpus:lots"},
		{"--raft-timeout", "10ms"},
	} {
		if _, err := flagsConfig(t, bad...); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%v: err = %v, want one naming %s", bad, err, bad[0])
		}
	}
}
