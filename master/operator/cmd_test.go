package operator

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/agora-cluster/agora/master"
	"github.com/agora-cluster/agora/sdk/sdktest"
)

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	app := &cli.App{Name: "agora", Writer: &out, ErrWriter: &out, Commands: []*cli.Command{Command()}}
	err := app.Run(append([]string{"agora", "cluster"}, args...))
	return out.String(), err
}

func TestClusterCLI(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(3), sdktest.Agents(2, "cpus:2;mem:512"), sdktest.Simulated())
	var standby string
	for _, m := range c.Masters() {
		if !m.IsLeader() {
			standby = m.HTTPAddr()
		}
	}
	// Any member works: a dead address first, then a standby.
	masters := "127.0.0.1:1," + standby

	out, err := runCLI(t, "--masters", masters, "status")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Leader:     "+c.Leader().Name()) || !strings.Contains(out, "Agents:     2 (2 active)") {
		t.Fatalf("status:\n%s", out)
	}
	out, err = runCLI(t, "--masters", masters, "-o", "json", "agents")
	if err != nil {
		t.Fatal(err)
	}
	var agents []master.AgentView
	if err := json.Unmarshal([]byte(out), &agents); err != nil || len(agents) != 2 {
		t.Fatalf("agents json: %v\n%s", err, out)
	}
	if out, err = runCLI(t, "--masters", masters, "role", "set", "--weight", "3", "--quota", "cpus:2", "batch"); err != nil || !strings.Contains(out, "weight 3, quota cpus:2") {
		t.Fatalf("role set: %v\n%s", err, out)
	}
	if out, _ = runCLI(t, "--masters", masters, "role", "list"); !strings.Contains(out, "batch") {
		t.Fatalf("role list:\n%s", out)
	}
	if _, err = runCLI(t, "--masters", masters, "role", "set", "--quota", "gpus:1", "x"); err == nil || !strings.Contains(err.Error(), "unknown resource") {
		t.Fatalf("bad quota: %v", err)
	}
	if _, err = runCLI(t, "--masters", masters, "drain", "nope"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("drain unknown agent: %v", err)
	}
	if out, err = runCLI(t, "--masters", masters, "drain", "--grace", "1s", string(agents[0].ID)); err != nil || !strings.Contains(out, "draining") {
		t.Fatalf("drain: %v\n%s", err, out)
	}
	if out, err = runCLI(t, "--masters", masters, "members"); err != nil || strings.Count(out, "127.0.0.1") < 3 {
		t.Fatalf("members: %v\n%s", err, out)
	}
	if _, err = runCLI(t, "--masters", masters, "-o", "yaml", "agents"); err == nil {
		t.Fatal("unknown output format accepted")
	}
}
