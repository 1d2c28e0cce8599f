package batch

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/agora-cluster/agora/framework/batch/api"
	"github.com/agora-cluster/agora/framework/batch/record"
	"github.com/agora-cluster/agora/framework/batch/spec"
	"github.com/agora-cluster/agora/sdk/sdktest"
)

// TestMetrics runs a job of three tasks that succeed and one whose task
// fails twice (one retry), then checks what GET /metrics reports about
// them, the offers and the framework's connection.
func TestMetrics(t *testing.T) {
	c, _ := simCluster(t, 2, "cpus:4;mem:4096")
	s := startFramework(t, c, t.TempDir())
	ctx := sdktest.Ctx(t, 60*time.Second)
	cl := api.NewClient(s.Addr())
	var runs []uint64
	for _, doc := range []string{
		`{"name": "three", "command": "true", "instances": 3, "resources": {"cpus": 0.1, "mem": 16}, "simulate": {"duration": "50ms"}}`,
		`{"name": "flaky", "command": "false", "retries": {"limit": 1, "backoff": "50ms"}, "resources": {"cpus": 0.1, "mem": 16},
		  "simulate": {"duration": "50ms", "exit_code": 1}}`,
	} {
		res, err := cl.Submit(ctx, []byte(doc), spec.JSON, false)
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, res.Runs[0].ID)
	}
	attempts := 0
	for i, want := range []record.RunState{record.RunSucceeded, record.RunFailed} {
		var st record.RunStatus
		sdktest.Eventually(t, 30*time.Second, func() bool {
			var err error
			st, err = cl.Run(ctx, runs[i], false, 0)
			return err == nil && st.Run.State.Terminal()
		}, "the runs to end")
		if st.Run.State != want {
			t.Fatalf("run %d: %s (%s), want %s", runs[i], st.Run.State, st.Run.Message, want)
		}
		attempts += st.Progress.Attempts
	}
	if attempts != 5 {
		t.Fatalf("%d attempts, want 3 + 2", attempts)
	}

	fw := string(s.FrameworkID())
	exact := map[string]float64{
		`agora_batch_framework_info{framework_id="` + fw + `",name="agora-batch"}`: 1,
		`agora_batch_subscribed`:                      1,
		`agora_batch_nats_connected`:                  1,
		`agora_batch_offers_total{event="rescinded"}`: 0,
		`agora_batch_tasks_launched_total`:            5,
		`agora_batch_task_retries_total`:              1,
		`agora_batch_tasks{state="TASK_FINISHED"}`:    3,
		`agora_batch_tasks{state="TASK_FAILED"}`:      2,
		`agora_batch_tasks{state="TASK_RUNNING"}`:     0,
		`agora_batch_tasks{state="TASK_STAGING"}`:     0,
		`agora_batch_jobs`:                            2,
		`agora_batch_runs_active`:                     0,
		`agora_batch_runs_total{result="succeeded"}`:  1,
		`agora_batch_runs_total{result="failed"}`:     1,
		`agora_batch_runs_total{result="killed"}`:     0,
	}
	atLeast := map[string]float64{
		`agora_batch_offers_total{event="received"}`:              1,
		`agora_batch_offers_total{event="accepted"}`:              2, // the retry came on a later offer
		`agora_batch_status_updates_total{state="TASK_FINISHED"}`: 3,
		`agora_batch_status_updates_total{state="TASK_FAILED"}`:   2,
		`go_goroutines`: 1,
	}
	// Launches are counted when the master's answer comes back, which
	// may be after the tasks' updates: poll.
	checkMetrics(t, s.URL()+"/metrics", 10*time.Second, exact, atLeast)
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
