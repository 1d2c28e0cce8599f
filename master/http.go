package master

import (
	"bytes"
	"compress/gzip"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	fastjson "github.com/goccy/go-json"

	"github.com/agora-cluster/agora/master/allocator"
	"github.com/agora-cluster/agora/master/ui"
	"github.com/agora-cluster/agora/sdk/wire"
)

func (m *Master) startHTTP() error {
	ln, err := net.Listen("tcp", m.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("master: http listen %s: %w", m.cfg.HTTPAddr, err)
	}
	m.httpLn = ln
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", m.handleHealth)
	mux.Handle("GET /metrics", m.metrics.handler())
	mux.HandleFunc("GET /api/v1/leader", m.handleLeader)
	mux.HandleFunc("GET /api/v1/state", m.leaderOnly(m.handleState))
	mux.HandleFunc("GET /api/v1/agents", m.leaderOnly(m.handleAgents))
	mux.HandleFunc("GET /api/v1/frameworks", m.leaderOnly(m.handleFrameworks))
	mux.HandleFunc("GET /api/v1/tasks", m.leaderOnly(m.handleTasks))
	mux.HandleFunc("GET /api/v1/roles", m.leaderOnly(m.handleRoles))
	mux.HandleFunc("PUT /api/v1/roles/{role}", m.operator(m.leaderOnly(m.handleSetRole)))
	mux.HandleFunc("PUT /api/v1/roles/{role}/acl", m.operator(m.leaderOnly(m.handleSetRoleACL)))
	mux.HandleFunc("POST /api/v1/agents/{id}/drain", m.operator(m.leaderOnly(m.handleDrain)))
	mux.HandleFunc("POST /api/v1/agents/{id}/reactivate", m.operator(m.leaderOnly(m.handleReactivate)))
	mux.HandleFunc("GET /api/v1/members", m.handleMembers)
	mux.HandleFunc("GET /api/v1/agents/{agent}/sandbox/{framework}/{task}", m.leaderOnly(m.handleSandbox))
	mux.HandleFunc("GET /api/v1/agents/{agent}/sandbox/{framework}/{task}/{file...}", m.leaderOnly(m.handleSandbox))
	if m.cfg.EnableDebug {
		mux.HandleFunc("GET /debug/pprof/", m.operator(pprof.Index))
		mux.HandleFunc("GET /debug/pprof/profile", m.operator(pprof.Profile))
		mux.HandleFunc("GET /debug/pprof/trace", m.operator(pprof.Trace))
	}
	mux.Handle("GET /", ui.Handler())
	m.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	m.goFunc(func() {
		serve := func() error { return m.httpSrv.Serve(ln) }
		if m.cfg.TLSCert != "" {
			serve = func() error { return m.httpSrv.ServeTLS(ln, m.cfg.TLSCert, m.cfg.TLSKey) }
		}
		if err := serve(); err != nil && err != http.ErrServerClosed {
			m.log.Error("http server", "err", err)
		}
	})
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, format string, args ...any) {
	writeJSON(w, code, map[string]string{"error": fmt.Sprintf(format, args...)})
}

// operator requires the operator token, when one is configured, on calls
// that change state.
func (m *Master) operator(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if tok := m.cfg.OperatorToken; tok != "" {
			got := r.Header.Get("Authorization")
			if subtle.ConstantTimeCompare([]byte(got), []byte("Bearer "+tok)) != 1 {
				writeError(w, http.StatusUnauthorized, "this call changes the cluster and needs the operator token (Authorization: Bearer ...)")
				return
			}
		}
		h(w, r)
	}
}

func (m *Master) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"name": m.cfg.Name, "leader": m.IsLeader(), "raft_state": m.raft.State()})
}

func (m *Master) handleLeader(w http.ResponseWriter, r *http.Request) {
	li, _ := m.currentLeader()
	if li.Name == "" {
		writeError(w, http.StatusServiceUnavailable, "no leader known yet")
		return
	}
	writeJSON(w, http.StatusOK, li)
}

// leaderOnly serves h on the leader; a standby redirects to the leader
// with 307 (the method and body are kept) or answers 503 if it knows none.
func (m *Master) leaderOnly(h func(http.ResponseWriter, *http.Request, *leader)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		li, l := m.currentLeader()
		if l != nil {
			h(w, r, l)
			return
		}
		if li.HTTP == "" {
			writeError(w, http.StatusServiceUnavailable, "this master (%s) is a standby and knows no leader's HTTP address yet", m.cfg.Name)
			return
		}
		u := *r.URL
		u.Scheme, u.Host = "http", li.HTTP
		if m.cfg.TLSCert != "" {
			u.Scheme = "https"
		}
		http.Redirect(w, r, u.String(), http.StatusTemporaryRedirect)
	}
}

// State is the body of GET /api/v1/state.
type State struct {
	Leader     string           `json:"leader"`
	Term       uint64           `json:"term"`
	Agents     []AgentView      `json:"agents"`
	Frameworks []FrameworkView  `json:"frameworks"`
	Tasks      []TaskView       `json:"tasks"`
	Offers     []wire.Offer     `json:"offers"`
	Completed  []TaskView       `json:"completed_tasks"`
	Totals     ResourceTotalsV1 `json:"totals"`
}

// AgentView is one agent in the state API.
type AgentView struct {
	ID        wire.AgentID   `json:"id"`
	Hostname  string         `json:"hostname"`
	Resources wire.Resources `json:"resources"`
	Used      wire.Resources `json:"used"`
	Offered   wire.Resources `json:"offered"`
	// OfferedTo splits Offered by the framework it is offered to.
	OfferedTo  map[wire.FrameworkID]wire.Resources `json:"offered_to,omitempty"`
	State      string                              `json:"state"`
	Attributes map[string]string                   `json:"attributes,omitempty"`
	Isolation  string                              `json:"isolation,omitempty"`
}

// FrameworkView is one framework in the state API.
type FrameworkView struct {
	ID       wire.FrameworkID `json:"id"`
	Name     string           `json:"name"`
	Role     string           `json:"role"`
	Roles    []string         `json:"roles"`
	Active   bool             `json:"active"`
	Stats    frameworkStats   `json:"stats"`
	WebUIURL string           `json:"webui_url,omitempty"`
	// Filters are its running offer filters (from DECLINE and the unused
	// part of ACCEPT): no offers from the agent for the role until then.
	Filters []allocator.FilterStats `json:"filters,omitempty"`
	// Why says what the allocator thinks of the framework's offers now
	// ("no free resources", "suppressed for roles [...]", ...).
	Why string `json:"offer_status,omitempty"`
}

// TaskView is one task in the state API.
type TaskView struct {
	ID          wire.TaskID      `json:"id"`
	Name        string           `json:"name,omitempty"`
	FrameworkID wire.FrameworkID `json:"framework_id"`
	AgentID     wire.AgentID     `json:"agent_id"`
	State       wire.TaskState   `json:"state"`
	Reason      wire.Reason      `json:"reason,omitempty"`
	Message     string           `json:"message,omitempty"`
	Resources   wire.Resources   `json:"resources"`
	// Usage is what the task's processes use, as last measured by its
	// agent (every few heartbeats); absent for simulated tasks.
	Usage *wire.TaskUsage `json:"usage,omitempty"`
}

// ResourceTotalsV1 sums the cluster's resources.
type ResourceTotalsV1 struct {
	Total   wire.Resources `json:"total"`
	Used    wire.Resources `json:"used"`
	Offered wire.Resources `json:"offered"`
}

func (m *Master) handleState(w http.ResponseWriter, r *http.Request, l *leader) {
	gz := strings.Contains(r.Header.Get("Accept-Encoding"), "gzip")
	body, err := l.stateBody(gz)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encode state: %v", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Vary", "Accept-Encoding")
	if gz {
		w.Header().Set("Content-Encoding", "gzip")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// stateTTL is the shortest time a state view is reused for: however often
// the API is polled, the leader's lock is taken to copy the state at most
// this often (Mesos's /state blocked its master under polling; this one
// does not).
const stateTTL = 100 * time.Millisecond

// stateCostShare bounds the share of one core that state reads may use: a
// view that took d to build and encode is reused for at least d/share, so
// a large cluster polled in a loop costs the allocator at most this share.
const stateCostShare = 0.1

// stateCache is one state view and its encodings, built at most once each.
type stateCache struct {
	st   State
	at   time.Time
	cost time.Duration // time spent building and encoding this view
	body []byte        // JSON, built on first use
	gz   []byte        // gzipped JSON, built on first use
}

// cachedView returns a state view that is still fresh; concurrent readers
// share one rebuild. l.snapMu is held.
func (l *leader) cachedView() *stateCache {
	if c := l.snap; c != nil && time.Since(c.at) <= stateTTLFor(c.cost) {
		return c
	}
	start := time.Now()
	c := &stateCache{st: l.state(), at: start}
	c.cost = time.Since(start)
	l.snap = c
	return c
}

// stateTTLFor is how long a view that cost d to produce is reused.
func stateTTLFor(d time.Duration) time.Duration {
	return max(stateTTL, time.Duration(float64(d)/stateCostShare))
}

// cachedState returns a state view at most its TTL old.
func (l *leader) cachedState() State {
	l.snapMu.Lock()
	defer l.snapMu.Unlock()
	return l.cachedView().st
}

// stateBody returns the current view encoded as JSON (gzipped when gz),
// encoding each view at most once however many clients poll it.
func (l *leader) stateBody(gz bool) ([]byte, error) {
	l.snapMu.Lock()
	defer l.snapMu.Unlock()
	c := l.cachedView()
	// Encoding counts towards the view's cost, and so its lifetime.
	if c.body == nil {
		start := time.Now()
		b, err := fastjson.Marshal(c.st)
		if err != nil {
			return nil, err
		}
		c.body = b
		c.cost += time.Since(start)
	}
	if !gz {
		return c.body, nil
	}
	if c.gz == nil {
		start := time.Now()
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		if _, err := zw.Write(c.body); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
		c.gz = buf.Bytes()
		c.cost += time.Since(start)
	}
	return c.gz, nil
}

func taskView(t *taskState) TaskView {
	return TaskView{ID: t.info.TaskID, Name: t.info.Name, FrameworkID: t.fw, AgentID: t.agent,
		State: t.status.State, Reason: t.status.Reason, Message: t.status.Message, Resources: t.info.Resources, Usage: t.usage}
}

// offeredOn sums what agent id has outstanding in offers, in all and by
// the framework each is offered to (nil: nothing). l.mu is held.
func (l *leader) offeredOn(id wire.AgentID) (wire.Resources, map[wire.FrameworkID]wire.Resources) {
	var total wire.Resources
	var byFw map[wire.FrameworkID]wire.Resources
	for _, o := range l.agentOffer[id] {
		total = total.Add(o.Resources)
		if byFw == nil {
			byFw = map[wire.FrameworkID]wire.Resources{}
		}
		byFw[o.FrameworkID] = byFw[o.FrameworkID].Add(o.Resources)
	}
	return total, byFw
}

// state builds the state view.
func (l *leader) state() State {
	st := State{Leader: l.m.cfg.Name, Term: l.term, Agents: []AgentView{}, Frameworks: []FrameworkView{}, Tasks: []TaskView{}, Offers: []wire.Offer{}, Completed: []TaskView{}}
	regAgents := l.m.fsm.Agents()
	// Only copying happens under the leader's lock; sorting and encoding
	// happen after it is released.
	l.mu.Lock()
	for _, o := range l.offers {
		st.Offers = append(st.Offers, o.Offer)
	}
	for _, rec := range regAgents {
		v := AgentView{ID: rec.Info.ID, Hostname: rec.Info.Hostname, Resources: rec.Info.Resources,
			State: string(rec.State), Attributes: rec.Info.Attributes, Isolation: rec.Info.Isolation}
		if a := l.agents[rec.Info.ID]; a != nil {
			for _, t := range a.tasks {
				v.Used = v.Used.Add(t.info.Resources)
			}
			v.Offered, v.OfferedTo = l.offeredOn(rec.Info.ID)
		} else if rec.State == "ACTIVE" {
			v.State = "REREGISTERING"
		}
		st.Totals.Total = st.Totals.Total.Add(v.Resources)
		st.Totals.Used = st.Totals.Used.Add(v.Used)
		st.Totals.Offered = st.Totals.Offered.Add(v.Offered)
		st.Agents = append(st.Agents, v)
	}
	for id, f := range l.frameworks {
		role := ""
		if len(f.info.Roles) > 0 {
			role = f.info.Roles[0]
		}
		st.Frameworks = append(st.Frameworks, FrameworkView{ID: id, Name: f.info.Name, Role: role, Roles: f.info.Roles,
			Active: f.connected, Stats: f.stats, WebUIURL: f.info.WebUIURL})
	}
	for _, t := range l.tasks {
		st.Tasks = append(st.Tasks, taskView(t))
	}
	for _, t := range l.completed {
		st.Completed = append(st.Completed, taskView(t))
	}
	l.mu.Unlock()
	// The allocator is asked outside the leader's lock (it has its own,
	// taken per call), so that allocation and calls go on meanwhile: each
	// Explain walks every agent.
	filters := l.alloc.Filters()
	for i := range st.Frameworks {
		f := &st.Frameworks[i]
		f.Filters = filters[f.ID]
		f.Why = l.alloc.Explain(f.ID)
	}
	sort.Slice(st.Frameworks, func(i, j int) bool { return st.Frameworks[i].ID < st.Frameworks[j].ID })
	sort.Slice(st.Tasks, func(i, j int) bool { return st.Tasks[i].ID < st.Tasks[j].ID })
	sort.Slice(st.Offers, func(i, j int) bool { return st.Offers[i].ID < st.Offers[j].ID })
	return st
}

// StateView returns what GET /api/v1/state would, or an empty State when
// this master does not lead.
func (m *Master) StateView() State {
	_, l := m.currentLeader()
	if l == nil {
		return State{}
	}
	return l.state()
}
