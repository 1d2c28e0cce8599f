package service_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/agora-cluster/agora/framework/service"
	"github.com/agora-cluster/agora/framework/service/controller"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// readyApp's COMMAND check looks for ./ready, a file its task creates in
// its sandbox (its working directory): it passes only when run there.
const readyApp = `
id: %s
cmd: %s
resources: {cpus: 0.1, mem: 16}
health_checks:
  - {protocol: COMMAND, command: test -f ./ready, grace_period: 1s, interval: 200ms, timeout: 200ms, max_consecutive_failures: 2}
backoff: {initial: 10s, factor: 2, max: 20s}
kill_grace: 200ms
`

// TestCommandCheckRunsInTheSandbox: a COMMAND check that depends on the
// instance's sandbox passes (the agent runs it there), and one that fails
// gets its instance killed by the agent, which the framework counts for
// restart backoff.
func TestCommandCheckRunsInTheSandbox(t *testing.T) {
	if _, err := os.Stat("ready"); err == nil {
		t.Fatal("./ready exists in the framework's directory: the test could not tell where the check runs")
	}
	c := cluster(t, 1, nil)
	s := serve(t, c, t.TempDir())
	cl := service.NewClient(s.Addr())
	d := deploy(t, cl, fmt.Sprintf(readyApp, "ready", "touch ./ready; exec sleep 600"), 30*time.Second)
	if d.State != controller.DeploymentSucceeded {
		t.Fatalf("deployment %+v", d)
	}
	st := appStatus(t, cl, "ready")
	if st.Healthy != 1 || len(st.Tasks) != 1 || st.Tasks[0].Health != controller.HealthHealthy {
		t.Fatalf("status %+v", st)
	}

	// Without ./ready the check fails; the agent kills the instance.
	ctx := sdktest.Ctx(t, 30*time.Second)
	if _, err := cl.Deploy(ctx, []byte(fmt.Sprintf(readyApp, "notready", "exec sleep 600"))); err != nil {
		t.Fatal(err)
	}
	var ended controller.Instance
	sdktest.Eventually(t, 30*time.Second, func() bool {
		st, err := cl.App(context.Background(), "notready")
		if err != nil || len(st.Ended) == 0 {
			return false
		}
		ended = st.Ended[0]
		return st.Backoff != nil
	}, "the unhealthy instance to be killed and the app backed off")
	if ended.State != wire.TaskKilled || !strings.Contains(ended.Message, "killed by its agent") || ended.Killing {
		t.Fatalf("ended %+v: want TASK_KILLED by the agent, not by the framework", ended)
	}
	if now := appStatus(t, cl, "ready"); now.Healthy != 1 || len(now.Tasks) != 1 || now.Tasks[0].ID != st.Tasks[0].ID {
		t.Fatalf("the healthy app changed: %+v", now)
	}
}
