package api

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/agora-cluster/agora/framework/batch/engine"
	"github.com/agora-cluster/agora/framework/batch/record"
	"github.com/agora-cluster/agora/framework/batch/sandbox"
	"github.com/agora-cluster/agora/framework/batch/spec"
	"github.com/agora-cluster/agora/framework/batch/store"
)

func newServer(t *testing.T) *Client {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e, err := engine.New(engine.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer((&Server{Engine: e, Sandboxes: sandbox.None{}, Info: Info{Name: "batch", FrameworkID: "fw-1"}}).Handler())
	t.Cleanup(srv.Close)
	return NewClient(srv.URL)
}

func TestSubmitAndQuery(t *testing.T) {
	c := newServer(t)
	ctx := context.Background()
	file := []byte("name: a\ncommand: \"true\"\ninstances: 2\n")
	res, err := c.Submit(ctx, file, spec.YAML, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Jobs) != 1 || !res.Jobs[0].Created || len(res.Runs) != 1 {
		t.Fatalf("submit = %+v", res)
	}
	res, err = c.Submit(ctx, file, spec.Auto, true)
	if err != nil || res.Jobs[0].Created || res.Jobs[0].Version != 2 || len(res.Runs) != 0 {
		t.Fatalf("resubmit = %+v, %v", res, err)
	}
	js, err := c.Job(ctx, "a")
	if err != nil || len(js.Active) != 1 || js.Active[0].Progress.Waiting != 2 {
		t.Fatalf("job = %+v, %v", js, err)
	}
	jobs, err := c.Jobs(ctx)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("jobs = %+v, %v", jobs, err)
	}
	rs, err := c.Run(ctx, js.Active[0].Run.ID, true, 200*time.Millisecond)
	if err != nil || rs.Run.State != record.RunRunning || rs.Progress.Instances != 2 {
		t.Fatalf("run = %+v, %v", rs, err)
	}
	ref, err := c.Trigger(ctx, "a")
	if err != nil || ref.ID <= js.Active[0].Run.ID {
		t.Fatalf("trigger = %+v, %v", ref, err)
	}
	hist, err := c.History(ctx, "a", 10, 0)
	if err != nil || len(hist) != 2 || hist[0].Run.ID != ref.ID {
		t.Fatalf("history = %+v, %v", hist, err)
	}
	if err := c.Remove(ctx, "a", false); !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("remove with active runs: %v", err)
	}
	killed, err := c.Kill(ctx, "a")
	if err != nil || len(killed) != 2 {
		t.Fatalf("kill = %v, %v", killed, err)
	}
	// Nothing was launched, so the runs end at once.
	if rs, _ := c.Run(ctx, ref.ID, false, 0); rs.Run.State != record.RunKilled {
		t.Fatalf("killed run is %s", rs.Run.State)
	}
	if err := c.Remove(ctx, "a", false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Job(ctx, "a"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("removed job: %v", err)
	}
	info, err := c.Info(ctx)
	if err != nil || info.FrameworkID != "fw-1" {
		t.Fatalf("info = %+v, %v", info, err)
	}
}

func TestErrors(t *testing.T) {
	c := newServer(t)
	ctx := context.Background()
	_, err := c.Submit(ctx, []byte("name: a\ncommand: x\nretries: {limit: -1}\nbogus: 1\n"), spec.YAML, false)
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != 400 || !errors.Is(err, spec.ErrInvalid) {
		t.Fatalf("bad file: %v", err)
	}
	if len(ae.Fields) != 1 || ae.Fields[0].Path != "bogus" || ae.Fields[0].Line != 4 {
		t.Fatalf("fields = %+v", ae.Fields)
	}
	_, err = c.Submit(ctx, []byte(`{"name": "b", "command": "x", "depends_on": ["nope"]}`), spec.JSON, false)
	if !errors.As(err, &ae) || len(ae.Fields) != 1 || ae.Fields[0].Path != "depends_on" {
		t.Fatalf("unknown parent: %v", err)
	}
	if _, err := c.Trigger(ctx, "ghost"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("trigger ghost: %v", err)
	}
	if _, err := c.Run(ctx, 99, false, 0); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("run 99: %v", err)
	}
	if _, err := c.History(ctx, "ghost", 1, 0); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("history ghost: %v", err)
	}
	if _, err := c.Submit(ctx, []byte("name: l\ncommand: x\n"), spec.YAML, false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logs(ctx, "l", LogsQuery{}); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("logs before launch: %v", err)
	}
}
