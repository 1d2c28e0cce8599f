package service

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/agora-cluster/agora/framework/service/controller"
	"github.com/agora-cluster/agora/framework/service/events"
	"github.com/agora-cluster/agora/framework/service/spec"
)

// maxSpecBytes bounds a deployed spec.
const maxSpecBytes = 1 << 20

// Error codes of the API.
const (
	CodeInvalid  = "invalid"
	CodeNotFound = "not_found"
	CodeConflict = "conflict"
	CodeInternal = "internal"
)

// APIError is the body of every error answer, and what the Client
// returns for one.
type APIError struct {
	Status  int               `json:"-"`
	Code    string            `json:"code"`
	Message string            `json:"error"`
	Fields  []spec.FieldError `json:"fields,omitempty"`
}

// Error returns the message.
func (e *APIError) Error() string { return e.Message }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.handleHealthz)
	mux.HandleFunc("GET /v1/apps", s.handleApps)
	mux.HandleFunc("POST /v1/apps", s.handleDeploy)
	mux.HandleFunc("GET /v1/apps/{id}", s.handleApp)
	mux.HandleFunc("DELETE /v1/apps/{id}", s.handleRemove)
	mux.HandleFunc("POST /v1/apps/{id}/scale", s.handleScale)
	mux.HandleFunc("POST /v1/apps/{id}/restart", s.handleRestart)
	mux.HandleFunc("POST /v1/apps/{id}/rollback", s.handleRollback)
	mux.HandleFunc("GET /v1/apps/{id}/versions", s.handleVersions)
	mux.HandleFunc("GET /v1/apps/{id}/endpoints", s.handleEndpoints)
	mux.HandleFunc("GET /v1/apps/{id}/deployments", s.handleDeployments)
	mux.HandleFunc("GET /v1/deployments/{id}", s.handleDeployment)
	mux.HandleFunc("GET /v1/events", s.handleEvents)
	if s.metrics != nil {
		mux.Handle("GET /metrics", s.metrics)
	}
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// writeErr maps errors to answers: spec errors are 400 with the fields,
// ErrNotFound 404, ErrConflict 409, anything else 500.
func writeErr(w http.ResponseWriter, err error) {
	e := &APIError{Status: http.StatusInternalServerError, Code: CodeInternal, Message: err.Error()}
	var es spec.Errors
	switch {
	case errors.As(err, &es):
		e.Status, e.Code, e.Fields = http.StatusBadRequest, CodeInvalid, es
	case errors.Is(err, spec.ErrInvalid):
		e.Status, e.Code = http.StatusBadRequest, CodeInvalid
	case errors.Is(err, controller.ErrNotFound):
		e.Status, e.Code = http.StatusNotFound, CodeNotFound
	case errors.Is(err, controller.ErrConflict):
		e.Status, e.Code = http.StatusConflict, CodeConflict
	}
	writeJSON(w, e.Status, e)
}

func badRequest(w http.ResponseWriter, format string, args ...any) {
	writeJSON(w, http.StatusBadRequest, &APIError{Code: CodeInvalid, Message: fmt.Sprintf(format, args...)})
}

func (s *Server) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"framework_id": s.FrameworkID(), "subscribed": s.Subscribed()})
}

func (s *Server) handleApps(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.ctrl.Apps())
}

func (s *Server) handleDeploy(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSpecBytes+1))
	if err != nil {
		badRequest(w, "read spec: %v", err)
		return
	}
	if len(body) > maxSpecBytes {
		badRequest(w, "spec larger than %d bytes", maxSpecBytes)
		return
	}
	sp, err := spec.Parse(body)
	if err != nil {
		writeErr(w, err)
		return
	}
	res, err := s.ctrl.Deploy(r.Context(), sp)
	if err != nil {
		writeErr(w, err)
		return
	}
	status := http.StatusCreated
	if res.NoChange {
		status = http.StatusOK
	}
	writeJSON(w, status, res)
}

func (s *Server) handleApp(w http.ResponseWriter, r *http.Request) {
	st, err := s.ctrl.App(r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) handleRemove(w http.ResponseWriter, r *http.Request) {
	if err := s.ctrl.Remove(r.Context(), r.PathValue("id")); err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"app": r.PathValue("id"), "state": "removing"})
}

// decodeBody decodes an optional JSON body strictly.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// ScaleRequest is the body of POST /v1/apps/{id}/scale.
type ScaleRequest struct {
	Instances *int `json:"instances"`
}

// RollbackRequest is the body of POST /v1/apps/{id}/rollback.
type RollbackRequest struct {
	To int `json:"to,omitempty"`
}

func (s *Server) handleScale(w http.ResponseWriter, r *http.Request) {
	var req ScaleRequest
	if err := decodeBody(r, &req); err != nil {
		badRequest(w, "body: %v", err)
		return
	}
	if req.Instances == nil {
		writeErr(w, spec.Errors{{Field: "instances", Message: "required"}})
		return
	}
	res, err := s.ctrl.Scale(r.Context(), r.PathValue("id"), *req.Instances)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) handleRestart(w http.ResponseWriter, r *http.Request) {
	res, err := s.ctrl.Restart(r.Context(), r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) handleRollback(w http.ResponseWriter, r *http.Request) {
	var req RollbackRequest
	if err := decodeBody(r, &req); err != nil {
		badRequest(w, "body: %v", err)
		return
	}
	if req.To < 0 {
		writeErr(w, spec.Errors{{Field: "to", Message: "must not be negative"}})
		return
	}
	res, err := s.ctrl.Rollback(r.Context(), r.PathValue("id"), req.To)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) handleVersions(w http.ResponseWriter, r *http.Request) {
	vs, err := s.ctrl.Versions(r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, vs)
}

func (s *Server) handleEndpoints(w http.ResponseWriter, r *http.Request) {
	eps, err := s.ctrl.Endpoints(r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, eps)
}

func (s *Server) handleDeployments(w http.ResponseWriter, r *http.Request) {
	ds, err := s.ctrl.Deployments(r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ds)
}

func (s *Server) handleDeployment(w http.ResponseWriter, r *http.Request) {
	d, err := s.ctrl.Deployment(r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// sseKeepAlive is how often an idle event stream gets a comment line.
const sseKeepAlive = 15 * time.Second

// handleEvents streams events as Server-Sent Events: "id: <seq>",
// "event: <type>", "data: <json>". A client resumes with Last-Event-ID
// (or ?since=N) and gets the events it missed that the hub still holds.
// ?app=ID keeps one app's events.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeErr(w, errors.New("streaming not supported"))
		return
	}
	var since uint64
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		since, _ = strconv.ParseUint(v, 10, 64)
	} else if v := r.URL.Query().Get("since"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			badRequest(w, "since: %v", err)
			return
		}
		since = n
	} else {
		since = s.hub.Last()
	}
	app := r.URL.Query().Get("app")
	backlog, ch, cancel := s.hub.Subscribe(since, 1024)
	defer cancel()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Connection", "keep-alive")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, ": agora service events\n\n")
	send := func(e events.Event) error {
		if app != "" && e.App != app {
			return nil
		}
		data, _ := json.Marshal(e)
		_, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Type, data)
		return err
	}
	for _, e := range backlog {
		if send(e) != nil {
			return
		}
	}
	flusher.Flush()
	keep := time.NewTicker(sseKeepAlive)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case e, ok := <-ch:
			if !ok {
				return
			}
			if send(e) != nil {
				return
			}
			flusher.Flush()
		case <-keep.C:
			if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil {
				return
			}
			flusher.Flush()
		}
	}
}
