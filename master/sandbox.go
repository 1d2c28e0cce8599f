package master

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

// handleSandbox proxies sandbox reads to the agent over NATS:
//
//	GET /api/v1/agents/{agent}/sandbox/{framework}/{task}          the file listing (JSON)
//	GET /api/v1/agents/{agent}/sandbox/{framework}/{task}/{file...}  the file (text/plain)
//
// offset (negative: from the end) and length select a range; the answer
// carries X-Agora-Offset and X-Agora-Size. ?format=json returns the
// range as JSON instead.
func (m *Master) handleSandbox(w http.ResponseWriter, r *http.Request, l *leader) {
	q := r.URL.Query()
	req := wire.SandboxRead{
		FrameworkID: wire.FrameworkID(r.PathValue("framework")),
		TaskID:      wire.TaskID(r.PathValue("task")),
		Path:        r.PathValue("file"),
	}
	var err error
	if req.Offset, err = int64Param(q.Get("offset")); err != nil {
		writeError(w, http.StatusBadRequest, "offset: %v", err)
		return
	}
	if req.Length, err = int64Param(q.Get("length")); err != nil || req.Length < 0 {
		writeError(w, http.StatusBadRequest, "length: want a whole number >= 0")
		return
	}
	if err := req.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	agent := wire.AgentID(r.PathValue("agent"))
	l.mu.Lock()
	_, known := l.agents[agent]
	l.mu.Unlock()
	if !known {
		writeError(w, http.StatusNotFound, "agent %s is not registered with the leader", agent)
		return
	}
	data, err := wire.Encode(wire.TypeSandboxRead, m.cfg.Name, l.term, req)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	msg, err := m.nc.RequestWithContext(ctx, m.subj.Agent(agent), data)
	if err != nil {
		writeError(w, http.StatusBadGateway, "agent %s did not answer: %v", agent, err)
		return
	}
	var out wire.SandboxData
	env, err := wire.Decode(msg.Data)
	if err == nil {
		err = wire.ReplyError(env)
	}
	if err == nil {
		err = wire.DecodeBody(env, &out)
	}
	if err != nil {
		var we *wire.Error
		if errors.As(err, &we) && we.Code == wire.CodeUnknownAgent {
			writeError(w, http.StatusNotFound, "%s", we.Message)
			return
		}
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	if req.Path == "" || q.Get("format") == "json" {
		writeJSON(w, http.StatusOK, out)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Agora-Offset", strconv.FormatInt(out.Offset, 10))
	w.Header().Set("X-Agora-Size", strconv.FormatInt(out.Size, 10))
	_, _ = w.Write(out.Data)
}

func int64Param(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errors.New("not a whole number")
	}
	return n, nil
}
