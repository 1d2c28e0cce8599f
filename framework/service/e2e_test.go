package service_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agora-cluster/agora/framework/service"
	"github.com/agora-cluster/agora/framework/service/controller"
	"github.com/agora-cluster/agora/framework/service/events"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

func httpGet(url string) (string, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), err
}

func webSpec(bin string, instances int, extra string) string {
	return fmt.Sprintf(`
id: web
args: [%q]
instances: %d
resources: {cpus: 0.5, mem: 64}
ports: [{name: http}]
constraints: [hostname:UNIQUE]
health_checks:
  - {protocol: HTTP, path: /health, grace_period: 10s, interval: 200ms, timeout: 200ms, max_consecutive_failures: 3}
backoff: {initial: 100ms, factor: 2, max: 2s}
kill_grace: 1s
%s`, bin, instances, extra)
}

// TestEndToEndKill9 deploys a real HTTP server, reaches it through the
// endpoints list, kills one instance's process with SIGKILL and waits for
// a replacement to be healthy and listed again.
func TestEndToEndKill9(t *testing.T) {
	c := cluster(t, 2, nil)
	s := serve(t, c, t.TempDir())
	cl := service.NewClient(s.Addr())

	var evMu sync.Mutex
	var seen []events.Event
	evCtx, evCancel := context.WithCancel(context.Background())
	evDone := make(chan struct{})
	go func() {
		defer close(evDone)
		_ = cl.Events(evCtx, 0, "web", func(e events.Event) error {
			evMu.Lock()
			seen = append(seen, e)
			evMu.Unlock()
			return nil
		})
	}()
	t.Cleanup(func() { evCancel(); <-evDone })

	start := time.Now()
	d := deploy(t, cl, webSpec(testServerBin, 2, "env: {MESSAGE: v1}"), 30*time.Second)
	t.Logf("deployment of 2 instances succeeded in %s", time.Since(start).Round(time.Millisecond))
	if d.State != controller.DeploymentSucceeded {
		t.Fatalf("deployment %+v", d)
	}
	eps, err := cl.Endpoints(sdktest.Ctx(t, 5*time.Second), "web")
	if err != nil || len(eps) != 2 {
		t.Fatalf("endpoints = %+v, %v", eps, err)
	}
	if eps[0].Host == eps[1].Host {
		t.Fatalf("hostname:UNIQUE broken: %+v", eps)
	}
	for _, e := range eps {
		body, err := httpGet("http://" + e.Address + "/")
		if err != nil || !strings.Contains(body, "hello from "+string(e.Instance)+" v1") {
			t.Fatalf("endpoint %s answered %q, %v", e.Address, body, err)
		}
	}
	// The survivor is named before the kill: the replacement is the
	// instance that is neither.
	victim, survivor := eps[0], eps[1].Instance
	pidText, err := httpGet("http://" + victim.Address + "/pid")
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(pidText))
	if err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The killed instance leaves the endpoints; a replacement joins them.
	var replacedAt, healthyAt time.Time
	var current []controller.Endpoint
	sdktest.Eventually(t, 30*time.Second, func() bool {
		eps, err := cl.Endpoints(context.Background(), "web")
		if err != nil {
			return false
		}
		st, err := cl.App(context.Background(), "web")
		if err == nil && replacedAt.IsZero() {
			for _, tk := range st.Tasks {
				if tk.ID != victim.Instance && tk.ID != survivor && tk.State == wire.TaskRunning {
					replacedAt = time.Now()
				}
			}
		}
		if len(eps) != 2 {
			return false
		}
		for _, e := range eps {
			if e.Instance == victim.Instance {
				return false
			}
		}
		healthyAt, current = time.Now(), eps
		return true
	}, "a healthy replacement for %s", victim.Instance)
	if !replacedAt.IsZero() {
		t.Logf("BENCH service kill -9 -> replacement running: %s", replacedAt.Sub(killed).Round(time.Millisecond))
	}
	t.Logf("BENCH service kill -9 -> replacement healthy in endpoints: %s", healthyAt.Sub(killed).Round(time.Millisecond))
	for _, e := range current {
		if body, err := httpGet("http://" + e.Address + "/"); err != nil || !strings.Contains(body, string(e.Instance)) {
			t.Fatalf("endpoint %s after replacement: %q, %v", e.Address, body, err)
		}
	}
	st := appStatus(t, cl, "web")
	if len(st.Ended) == 0 || st.Ended[0].ID != victim.Instance || st.Ended[0].State != wire.TaskFailed {
		t.Fatalf("ended = %+v, want the victim TASK_FAILED", st.Ended)
	}
	// The SSE stream carried the failure and the new instance's health.
	sdktest.Eventually(t, 5*time.Second, func() bool {
		evMu.Lock()
		defer evMu.Unlock()
		failed, healthy := false, false
		for _, e := range seen {
			failed = failed || (e.Type == events.InstanceStatus && e.Instance == string(victim.Instance) && e.State == string(wire.TaskFailed))
			healthy = healthy || (e.Type == events.InstanceHealth && e.Instance != string(victim.Instance) && e.Time.After(killed) && e.State == "healthy")
		}
		return failed && healthy
	}, "SSE events of the failure and the replacement's health")
}

// TestFailingVersionRollsBack deploys a version whose health checks fail:
// past the deadline it rolls back, and the healthy instances of the good
// version kept serving throughout (min_health_capacity 1).
func TestFailingVersionRollsBack(t *testing.T) {
	c := cluster(t, 2, nil)
	s := serve(t, c, t.TempDir())
	cl := service.NewClient(s.Addr())
	upgrade := "upgrade: {min_health_capacity: 1, max_over_capacity: 0.5, deadline: 3s, auto_rollback: true}\n"
	spec := func(env string) string {
		return strings.Replace(webSpec(testServerBin, 2, env+"\n"+upgrade), "constraints: [hostname:UNIQUE]", "constraints: [hostname:MAX_PER:2]", 1)
	}
	deploy(t, cl, spec("env: {MESSAGE: good}"), 30*time.Second)
	good := taskIDs(appStatus(t, cl, "web"))
	ctx := sdktest.Ctx(t, 30*time.Second)
	res, err := cl.Deploy(ctx, []byte(spec("env: {MESSAGE: bad, UNHEALTHY: '1'}")))
	if err != nil {
		t.Fatal(err)
	}
	d, err := service.WaitDeployment(ctx, cl, res.Deployment, 20*time.Second, nil)
	if err == nil || d.State != controller.DeploymentRolledBack {
		t.Fatalf("bad version: %+v, %v", d, err)
	}
	t.Logf("bad version: %s", d.Message)
	rb, err := service.WaitDeployment(ctx, cl, d.RolledBackBy, 20*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := appStatus(t, cl, "web")
	if st.Version != 3 || st.Config != 1 || st.Healthy != 2 || rb.Kind != controller.KindAutoRollback {
		t.Fatalf("after rollback: %+v", st)
	}
	if now := taskIDs(st); len(now) != 2 || !now[keys(good)[0]] || !now[keys(good)[1]] {
		t.Fatalf("the good instances were replaced: before %v, after %v", good, now)
	}
}

func keys(m map[wire.TaskID]bool) []wire.TaskID {
	var out []wire.TaskID
	for k := range m {
		out = append(out, k)
	}
	return out
}
