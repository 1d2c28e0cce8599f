package service_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/agora-cluster/agora/framework/service"
	"github.com/agora-cluster/agora/framework/service/controller"
	"github.com/agora-cluster/agora/sdk/sdktest"
)

// agora runs `agora service ARGS...` against addr and returns its output.
func agora(t *testing.T, addr string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	app := &cli.App{Name: "agora", Writer: &out, ErrWriter: &out, Commands: []*cli.Command{service.Command()}}
	full := append([]string{"agora", "service"}, args...)
	if len(args) > 0 && args[0] != "serve" {
		full = append(full, "--addr", addr)
	}
	err := app.Run(full)
	return out.String(), err
}

func TestCLI(t *testing.T) {
	c := cluster(t, 2, nil)
	s := serve(t, c, t.TempDir())
	addr := s.Addr()
	dir := t.TempDir()
	file := filepath.Join(dir, "app.yaml")
	write := func(doc string) {
		if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustRun := func(args ...string) string {
		t.Helper()
		out, err := agora(t, addr, args...)
		if err != nil {
			t.Fatalf("agora service %v: %v\n%s", args, err, out)
		}
		return out
	}
	write("id: cli\ncmd: exec sleep 600\nresources: {cpus: 0.1, mem: 16}\nkill_grace: 200ms\n")
	out := mustRun("deploy", file, "--wait")
	if !strings.Contains(out, "app cli: version 1") || !strings.Contains(out, "succeeded") {
		t.Fatalf("deploy --wait printed:\n%s", out)
	}
	out = mustRun("status")
	if !strings.Contains(out, "APP") || !strings.Contains(out, "cli") || !strings.Contains(out, "succeeded") {
		t.Fatalf("status:\n%s", out)
	}
	var st controller.AppStatus
	if err := json.Unmarshal([]byte(mustRun("status", "cli", "--output", "json")), &st); err != nil || st.Running != 1 {
		t.Fatalf("status -o json: %+v, %v", st, err)
	}
	out = mustRun("status", "cli")
	if !strings.Contains(out, "RUNNING") || !strings.Contains(out, st.Tasks[0].Hostname) {
		t.Fatalf("status cli:\n%s", out)
	}
	out = mustRun("scale", "cli", "2", "--wait")
	if !strings.Contains(out, "version 2") {
		t.Fatalf("scale:\n%s", out)
	}
	mustRun("restart", "cli", "--wait")
	out = mustRun("versions", "cli")
	for _, want := range []string{"created", "scaled to 2", "restarted"} {
		if !strings.Contains(out, want) {
			t.Fatalf("versions lacks %q:\n%s", want, out)
		}
	}
	out = mustRun("rollback", "cli", "--to", "1", "--wait")
	if !strings.Contains(out, "version 4") {
		t.Fatalf("rollback:\n%s", out)
	}
	if st := appStatus(t, service.NewClient(addr), "cli"); st.Instances != 1 || st.Running != 1 || st.Config != 1 {
		t.Fatalf("after rollback to 1: instances %d running %d config %d", st.Instances, st.Running, st.Config)
	}
	var eps []controller.Endpoint
	if err := json.Unmarshal([]byte(mustRun("endpoints", "cli", "-o", "json")), &eps); err != nil || len(eps) != 1 || eps[0].Address != "" {
		t.Fatalf("endpoints of an app without ports: %+v, %v", eps, err)
	}
	// A bad spec is refused, naming the field.
	write("id: cli\ncmd: x\nhealth_checks: [{protocol: TCP}]\nresources: {cpus: -1}\n")
	out, err := agora(t, addr, "deploy", file)
	if err == nil || !strings.Contains(err.Error(), "resources.cpus") || !strings.Contains(err.Error(), "health_checks[0].protocol") {
		t.Fatalf("bad spec: %v\n%s", err, out)
	}
	if _, err := agora(t, addr, "scale", "nope", "1"); err == nil {
		t.Fatal("scaling a missing app succeeded")
	}
	mustRun("rm", "cli", "--wait")
	_, err = service.NewClient(addr).App(sdktest.Ctx(t, 5*time.Second), "cli")
	var ae *service.APIError
	if !errors.As(err, &ae) || ae.Code != service.CodeNotFound {
		t.Fatalf("after rm: %v", err)
	}
}
