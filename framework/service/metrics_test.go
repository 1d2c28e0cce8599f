package service_test

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/agora-cluster/agora/framework/service"
	"github.com/agora-cluster/agora/framework/service/controller"
	"github.com/agora-cluster/agora/sdk/sdktest"
)

// TestMetrics deploys an app of two instances, checks what GET /metrics
// reports, kills one instance's process and checks the restart and the
// replacement there too.
func TestMetrics(t *testing.T) {
	c := cluster(t, 2, nil)
	s := serve(t, c, t.TempDir())
	cl := service.NewClient(s.Addr())
	if d := deploy(t, cl, webSpec(testServerBin, 2, ""), 30*time.Second); d.State != controller.DeploymentSucceeded {
		t.Fatalf("deployment %+v", d)
	}
	url := s.URL() + "/metrics"
	fw := string(s.FrameworkID())
	checkMetrics(t, url, 10*time.Second, map[string]float64{
		`agora_service_framework_info{framework_id="` + fw + `",name="service"}`: 1,
		`agora_service_subscribed`:     1,
		`agora_service_nats_connected`: 1,
		`agora_service_apps`:           1,
		`agora_service_instances{health="healthy",state="TASK_RUNNING"}`:  2,
		`agora_service_deployments_active`:                                0,
		`agora_service_deployments_finished_total{outcome="succeeded"}`:   1,
		`agora_service_deployments_finished_total{outcome="rolled_back"}`: 0,
		`agora_service_tasks_launched_total`:                              2,
		`agora_service_tasks{state="TASK_RUNNING"}`:                       2,
		`agora_service_tasks{state="TASK_FAILED"}`:                        0,
		`agora_service_restarts_total`:                                    0,
		`agora_service_offers_total{event="rescinded"}`:                   0,
	}, map[string]float64{
		`agora_service_offers_total{event="received"}`:             2,
		`agora_service_offers_total{event="accepted"}`:             2, // hostname:UNIQUE: one offer per agent
		`agora_service_status_updates_total{state="TASK_RUNNING"}`: 2,
		`go_goroutines`: 1,
	})

	// kill -9 one instance: the framework counts a restart and launches a
	// replacement.
	eps, err := cl.Endpoints(sdktest.Ctx(t, 5*time.Second), "web")
	if err != nil || len(eps) != 2 {
		t.Fatalf("endpoints = %+v, %v", eps, err)
	}
	pidText, err := httpGet("http://" + eps[0].Address + "/pid")
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(pidText))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	checkMetrics(t, url, 30*time.Second, map[string]float64{
		`agora_service_restarts_total`:                                   1,
		`agora_service_tasks_launched_total`:                             3,
		`agora_service_tasks{state="TASK_FAILED"}`:                       1,
		`agora_service_tasks{state="TASK_RUNNING"}`:                      2,
		`agora_service_instances{health="healthy",state="TASK_RUNNING"}`: 2,
	}, map[string]float64{
		`agora_service_status_updates_total{state="TASK_FAILED"}`: 1,
	})
}

// checkMetrics scrapes url until every series in exact has its value and
// every one in atLeast at least its value, or fails at the deadline with
// what differed.
func checkMetrics(t *testing.T, url string, timeout time.Duration, exact, atLeast map[string]float64) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got, err := scrape(url)
		var bad []string
		if err != nil {
			bad = append(bad, err.Error())
		}
		for k, want := range exact {
			if v, ok := got[k]; !ok || v != want {
				bad = append(bad, fmt.Sprintf("%s = %v (present %v), want %v", k, v, ok, want))
			}
		}
		for k, want := range atLeast {
			if v, ok := got[k]; !ok || v < want {
				bad = append(bad, fmt.Sprintf("%s = %v (present %v), want at least %v", k, v, ok, want))
			}
		}
		if len(bad) == 0 {
			return
		}
		if time.Now().After(deadline) {
			sort.Strings(bad)
			t.Fatalf("metrics at %s:\n%s", url, strings.Join(bad, "\n"))
		}
		time.Sleep(50 * time.Millisecond) // poll interval, not synchronisation
	}
}

// scrape reads a text exposition into series ("name{l1="v1",...}", labels
// in name order) and their values; histograms and summaries are left out.
func scrape(url string) (map[string]float64, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", url, err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var v float64
			switch {
			case m.Gauge != nil:
				v = m.GetGauge().GetValue()
			case m.Counter != nil:
				v = m.GetCounter().GetValue()
			case m.Untyped != nil:
				v = m.GetUntyped().GetValue()
			default:
				continue
			}
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(labels)
			key := name
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			out[key] = v
		}
	}
	return out, nil
}
