package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/agora-cluster/agora/framework/batch/engine"
	"github.com/agora-cluster/agora/framework/batch/record"
	"github.com/agora-cluster/agora/framework/batch/sandbox"
	"github.com/agora-cluster/agora/framework/batch/spec"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Info describes the framework.
type Info struct {
	Name        string           `json:"name"`
	FrameworkID wire.FrameworkID `json:"framework_id"`
}

// Server serves the API over an engine.
type Server struct {
	Engine    *engine.Engine
	Sandboxes sandbox.Reader
	Info      Info
	Logger    *slog.Logger
}

// MaxWait bounds the ?wait= of GET /runs/{id}.
const MaxWait = 30 * time.Second

// MaxLogChunk bounds one logs answer.
const MaxLogChunk = 1 << 20

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /api/v1/info", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, s.Info) })
	mux.HandleFunc("POST /api/v1/jobs", s.submit)
	mux.HandleFunc("GET /api/v1/jobs", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, s.Engine.Jobs()) })
	mux.HandleFunc("GET /api/v1/jobs/{job}", s.job)
	mux.HandleFunc("DELETE /api/v1/jobs/{job}", s.remove)
	mux.HandleFunc("POST /api/v1/jobs/{job}/runs", s.trigger)
	mux.HandleFunc("GET /api/v1/jobs/{job}/runs", s.history)
	mux.HandleFunc("POST /api/v1/jobs/{job}/kill", s.killJob)
	mux.HandleFunc("GET /api/v1/jobs/{job}/logs", s.logs)
	mux.HandleFunc("GET /api/v1/runs/{id}", s.run)
	mux.HandleFunc("POST /api/v1/runs/{id}/kill", s.killRun)
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	e, ok := err.(*Error)
	if !ok {
		e = toError(err)
	}
	if e.Status >= 500 && s.Logger != nil {
		s.Logger.Error("API error", "err", err)
	}
	writeJSON(w, e.Status, e)
}

func (s *Server) submit(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(io.LimitReader(r.Body, spec.MaxFileSize+1))
	if err != nil {
		s.fail(w, badRequest("read body: %v", err))
		return
	}
	f := spec.Auto
	switch ct := r.Header.Get("Content-Type"); {
	case strings.Contains(ct, "json"):
		f = spec.JSON
	case strings.Contains(ct, "yaml"):
		f = spec.YAML
	}
	jobs, err := spec.Parse(data, f)
	if err != nil {
		s.fail(w, err)
		return
	}
	run := r.URL.Query().Get("run") != "false"
	res, err := s.Engine.Submit(r.Context(), jobs, engine.SubmitOptions{NoRun: !run})
	if err != nil {
		s.fail(w, err)
		return
	}
	status := http.StatusOK
	for _, j := range res.Jobs {
		if j.Created {
			status = http.StatusCreated
		}
	}
	writeJSON(w, status, res)
}

func (s *Server) job(w http.ResponseWriter, r *http.Request) {
	st, err := s.Engine.Job(r.PathValue("job"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, 200, st)
}

func (s *Server) remove(w http.ResponseWriter, r *http.Request) {
	if err := s.Engine.Remove(r.Context(), r.PathValue("job"), r.URL.Query().Get("force") == "true"); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) trigger(w http.ResponseWriter, r *http.Request) {
	ref, err := s.Engine.Trigger(r.Context(), r.PathValue("job"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, ref)
}

func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := intParam(q.Get("limit"), 20)
	if err != nil {
		s.fail(w, badRequest("limit: %v", err))
		return
	}
	before, err := strconv.ParseUint(orZero(q.Get("before")), 10, 64)
	if err != nil {
		s.fail(w, badRequest("before: %v", err))
		return
	}
	runs, err := s.Engine.History(r.Context(), r.PathValue("job"), limit, before)
	if err != nil {
		s.fail(w, err)
		return
	}
	if runs == nil {
		runs = []record.RunStatus{}
	}
	writeJSON(w, 200, runs)
}

func (s *Server) killJob(w http.ResponseWriter, r *http.Request) {
	ids, err := s.Engine.KillJob(r.Context(), r.PathValue("job"))
	if err != nil {
		s.fail(w, err)
		return
	}
	if ids == nil {
		ids = []uint64{}
	}
	writeJSON(w, 200, map[string][]uint64{"killed": ids})
}

func (s *Server) run(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		s.fail(w, badRequest("run ID %q is not a number", r.PathValue("id")))
		return
	}
	q := r.URL.Query()
	if ws := q.Get("wait"); ws != "" {
		d, err := time.ParseDuration(ws)
		if err != nil || d < 0 {
			s.fail(w, badRequest("wait: want a duration like 2s"))
			return
		}
		s.waitChange(r.Context(), min(d, MaxWait))
	}
	st, err := s.Engine.RunStatus(r.Context(), id, q.Get("attempts") == "true")
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, 200, st)
}

// waitChange returns at the engine's next committed change, or after d.
func (s *Server) waitChange(ctx context.Context, d time.Duration) {
	ch := s.Engine.Changed()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-ctx.Done():
	}
}

func (s *Server) killRun(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		s.fail(w, badRequest("run ID %q is not a number", r.PathValue("id")))
		return
	}
	if err := s.Engine.KillRun(r.Context(), id); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, 200, map[string][]uint64{"killed": {id}})
}

func intParam(s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a non-negative integer", s)
	}
	return n, nil
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}
