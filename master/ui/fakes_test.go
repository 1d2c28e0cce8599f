package ui_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/agora-cluster/agora/framework/batch/record"
	bspec "github.com/agora-cluster/agora/framework/batch/spec"
	"github.com/agora-cluster/agora/framework/service/controller"
	sspec "github.com/agora-cluster/agora/framework/service/spec"
	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// The fakes answer the bundled frameworks' read routes with the
// frameworks' own Go types, so the UI is tested against the shapes those
// APIs really serve, without running the frameworks.

func serveJSON(t *testing.T, routes map[string]any) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	for pattern, body := range routes {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(body)
		})
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func startFakeBatch(t *testing.T) *httptest.Server {
	t.Helper()
	now := time.Now().UTC()
	nightly := bspec.Job{Name: "nightly-report", Command: "make report", Instances: 4,
		Schedule: &bspec.Schedule{Cron: "0 3 * * *"}}
	running := record.RunStatus{
		Run:      record.Run{ID: 8, Job: nightly.Name, JobVersion: 2, Spec: nightly, Trigger: record.TriggerSchedule, State: record.RunRunning, Created: now.Add(-time.Minute)},
		Progress: record.Progress{Instances: 4, Succeeded: 2, Running: 1, Waiting: 1, Attempts: 3},
	}
	done := record.RunStatus{
		Run: record.Run{ID: 7, Job: nightly.Name, JobVersion: 2, Spec: nightly, Trigger: record.TriggerSchedule, State: record.RunSucceeded,
			Created: now.Add(-25 * time.Hour), Finished: now.Add(-24 * time.Hour)},
		Progress: record.Progress{Instances: 4, Succeeded: 4, Attempts: 4},
	}
	jobs := []record.JobStatus{
		{Job: record.Job{Spec: nightly, Version: 2, Created: now.Add(-48 * time.Hour), Updated: now.Add(-time.Minute),
			LastRun: &record.RunRef{ID: 7, State: record.RunSucceeded}},
			Active: []record.RunStatus{running}, NextScheduled: now.Add(10 * time.Hour), Children: []string{"ingest"}},
		{Job: record.Job{Spec: bspec.Job{Name: "ingest", Command: "ingest.sh", Instances: 1, DependsOn: []string{"nightly-report"}},
			Version: 1, Created: now.Add(-48 * time.Hour), Updated: now.Add(-48 * time.Hour)}},
	}
	return serveJSON(t, map[string]any{
		"GET /api/v1/info":                     map[string]string{"name": "agora-batch", "framework_id": "batch-fw"},
		"GET /api/v1/jobs":                     jobs,
		"GET /api/v1/jobs/nightly-report/runs": []record.RunStatus{running, done},
		"GET /api/v1/jobs/ingest/runs":         []record.RunStatus{},
		"GET /api/v1/runs/8":                   running,
		"GET /api/v1/runs/7":                   done,
	})
}

func startFakeService(t *testing.T, agent wire.AgentID) *httptest.Server {
	t.Helper()
	now := time.Now().UTC()
	inst := func(id string, health controller.Health) controller.Instance {
		return controller.Instance{ID: wire.TaskID(id), App: "web", Config: 3, AgentID: agent, Hostname: "agent1",
			Ports: []uint64{31000}, State: wire.TaskRunning, Health: health, HasChecks: true, LaunchedAt: now.Add(-time.Minute)}
	}
	web := controller.AppStatus{ID: "web", Version: 3, Config: 3, Stable: 2, Instances: 3, Running: 3, Healthy: 2,
		Waiting: "waiting for health checks of web-3",
		Deployment: &controller.Deployment{ID: "d-5", App: "web", Kind: controller.KindDeploy, FromVersion: 2, ToVersion: 3, Instances: 3,
			State: controller.DeploymentRunning, Started: now.Add(-time.Minute), Waiting: "waiting for health checks of web-3",
			Steps: []controller.Step{{Time: now.Add(-50 * time.Second), Message: "launched web-3"}}},
		Tasks: []controller.Instance{inst("web-1", controller.HealthHealthy), inst("web-2", controller.HealthHealthy), inst("web-3", controller.HealthUnknown)},
		Spec:  sspec.App{ID: "web", Cmd: "./serve --port $PORT0", Instances: 3},
	}
	api := controller.AppStatus{ID: "api", Version: 1, Config: 1, Stable: 1, Instances: 1, Running: 1, Healthy: 1,
		Tasks: []controller.Instance{inst("api-1", controller.HealthHealthy)}, Spec: sspec.App{ID: "api", Cmd: "./api", Instances: 1}}
	return serveJSON(t, map[string]any{
		"GET /v1/apps": []controller.AppStatus{api, web},
	})
}

// registerWebUI registers a framework that advertises url as its web UI
// and declines every offer, so that it holds no resources.
func registerWebUI(t *testing.T, c *sdktest.Cluster, name, url string) {
	t.Helper()
	rec := sdktest.NewRecorder()
	rec.OnOffers = func(ctx context.Context, d *sdk.Driver, offers []wire.Offer) {
		ids := make([]wire.OfferID, len(offers))
		for i, o := range offers {
			ids[i] = o.ID
		}
		_ = d.Decline(ctx, ids, 3600)
	}
	c.RunDriver(t, wire.FrameworkInfo{Name: name, WebUIURL: url}, rec)
	rec.WaitSubscribed(t, 5*time.Second, 1)
}
