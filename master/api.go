package master

import (
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/agora-cluster/agora/master/registry"
	"github.com/agora-cluster/agora/sdk/wire"
)

func (m *Master) handleAgents(w http.ResponseWriter, r *http.Request, l *leader) {
	writeJSON(w, http.StatusOK, l.cachedState().Agents)
}

func (m *Master) handleFrameworks(w http.ResponseWriter, r *http.Request, l *leader) {
	writeJSON(w, http.StatusOK, l.cachedState().Frameworks)
}

// TaskPage is one page of GET /api/v1/tasks.
type TaskPage struct {
	Total  int        `json:"total"`
	Offset int        `json:"offset"`
	Limit  int        `json:"limit"`
	Tasks  []TaskView `json:"tasks"`
}

// handleTasks lists tasks (running and recently completed), filtered by
// framework, agent and state, paginated by offset and limit.
func (m *Master) handleTasks(w http.ResponseWriter, r *http.Request, l *leader) {
	q := r.URL.Query()
	offset, err := intParam(q.Get("offset"), 0, 0, 1<<31)
	if err != nil {
		writeError(w, http.StatusBadRequest, "offset: %v", err)
		return
	}
	limit, err := intParam(q.Get("limit"), 100, 1, 10000)
	if err != nil {
		writeError(w, http.StatusBadRequest, "limit: %v", err)
		return
	}
	state := wire.TaskState(q.Get("state"))
	if state != "" && !state.Valid() {
		writeError(w, http.StatusBadRequest, "state %q is not a task state (e.g. TASK_RUNNING)", state)
		return
	}
	fw, agent := wire.FrameworkID(q.Get("framework")), wire.AgentID(q.Get("agent"))
	st := l.cachedState()
	var all []TaskView
	for _, list := range [][]TaskView{st.Tasks, st.Completed} {
		for _, t := range list {
			if (fw == "" || t.FrameworkID == fw) && (agent == "" || t.AgentID == agent) && (state == "" || t.State == state) {
				all = append(all, t)
			}
		}
	}
	page := TaskPage{Total: len(all), Offset: offset, Limit: limit, Tasks: []TaskView{}}
	if offset < len(all) {
		page.Tasks = all[offset:min(len(all), offset+limit)]
	}
	writeJSON(w, http.StatusOK, page)
}

func intParam(s string, def, lo, hi int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errors.New("not a whole number")
	}
	if n < lo || n > hi {
		return 0, errors.New("out of range " + strconv.Itoa(lo) + ".." + strconv.Itoa(hi))
	}
	return n, nil
}

// RoleView is a role in the API.
type RoleView struct {
	Name   string         `json:"name"`
	Weight float64        `json:"weight"`
	Quota  wire.Resources `json:"quota"`
}

func (m *Master) handleRoles(w http.ResponseWriter, r *http.Request, l *leader) {
	out := []RoleView{}
	for _, rr := range m.fsm.Roles() {
		out = append(out, RoleView{Name: rr.Name, Weight: rr.Weight, Quota: rr.Quota})
	}
	writeJSON(w, http.StatusOK, out)
}

// handleSetRole commits a role's weight and quota through raft, then
// applies it to the allocator.
func (m *Master) handleSetRole(w http.ResponseWriter, r *http.Request, l *leader) {
	var body RoleView
	if err := decodeBody(r, &body); err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	body.Name = r.PathValue("role")
	if body.Weight == 0 {
		body.Weight = 1
	}
	role := registry.Role{Name: body.Name, Weight: body.Weight, Quota: body.Quota}
	if err := m.raftApply(r.Context(), registry.SetRole, registry.SetRoleCmd{Role: role}); err != nil {
		writeWireError(w, err)
		return
	}
	if err := l.setRole(role); err != nil {
		writeError(w, http.StatusInternalServerError, "role committed but not applied: %v", err)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New("request body: " + err.Error())
	}
	return nil
}

// writeWireError maps a wire error code to an HTTP status.
func writeWireError(w http.ResponseWriter, err error) {
	var we *wire.Error
	if !errors.As(err, &we) {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	code := http.StatusInternalServerError
	switch we.Code {
	case wire.CodeInvalid:
		code = http.StatusBadRequest
	case wire.CodeUnknownAgent, wire.CodeUnknownFramework:
		code = http.StatusNotFound
	case wire.CodeForbidden:
		code = http.StatusForbidden
	case wire.CodeConflict:
		code = http.StatusConflict
	case wire.CodeNotLeader, wire.CodeUnavailable:
		code = http.StatusServiceUnavailable
	}
	writeError(w, code, "%s", we.Message)
}

// handleDrain starts draining an agent: no more offers from it, and its
// tasks are killed once the grace period ends.
func (m *Master) handleDrain(w http.ResponseWriter, r *http.Request, l *leader) {
	var body struct {
		Grace string `json:"grace"`
	}
	if r.ContentLength != 0 {
		if err := decodeBody(r, &body); err != nil {
			writeError(w, http.StatusBadRequest, "%v", err)
			return
		}
	}
	grace := 30 * time.Second
	if body.Grace != "" {
		g, err := time.ParseDuration(body.Grace)
		if err != nil || g < 0 {
			writeError(w, http.StatusBadRequest, "grace %q: want a duration such as 30s", body.Grace)
			return
		}
		grace = g
	}
	id := wire.AgentID(r.PathValue("id"))
	deadline := time.Now().Add(grace)
	if err := l.drain(r.Context(), id, deadline); err != nil {
		writeWireError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"agent": id, "state": registry.AgentDraining, "deadline": deadline})
}

func (m *Master) handleReactivate(w http.ResponseWriter, r *http.Request, l *leader) {
	id := wire.AgentID(r.PathValue("id"))
	if err := l.reactivate(r.Context(), id); err != nil {
		writeWireError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"agent": id, "state": registry.AgentActive})
}

// Member is one master in GET /api/v1/members.
type Member struct {
	Name     string `json:"name"`
	RaftAddr string `json:"raft_addr"`
	// State is the raft state the member last reported ("Leader",
	// "Follower", "Candidate"), or "unreachable".
	State    string    `json:"state"`
	HTTP     string    `json:"http,omitempty"`
	LastSeen time.Time `json:"last_seen,omitempty"`
}

// handleMembers lists the raft configuration with what each member last
// said of itself. Any master answers.
func (m *Master) handleMembers(w http.ResponseWriter, r *http.Request) {
	ms, err := m.raft.Members()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	seen := m.memberStatus()
	out := make([]Member, 0, len(ms))
	for _, rm := range ms {
		mem := Member{Name: rm.Name, RaftAddr: rm.Addr, State: "unreachable"}
		if st, ok := seen[rm.Name]; ok && time.Since(st.at) < 3*m.cfg.AnnounceInterval+time.Second {
			mem.State, mem.HTTP, mem.LastSeen = st.State, st.HTTP, st.at
		}
		out = append(out, mem)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	writeJSON(w, http.StatusOK, out)
}

// handleSetRoleACL restricts a role to principals (an empty list lifts
// the restriction), committed through raft.
func (m *Master) handleSetRoleACL(w http.ResponseWriter, r *http.Request, l *leader) {
	var body struct {
		Principals []string `json:"principals"`
	}
	if err := decodeBody(r, &body); err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	role := r.PathValue("role")
	if err := m.raftApply(r.Context(), registry.SetRoleACL, registry.SetRoleACLCmd{Role: role, Principals: body.Principals}); err != nil {
		writeWireError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"role": role, "principals": m.fsm.RoleACL(role)})
}
