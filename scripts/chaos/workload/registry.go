package workload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/scripts/lincheck"
	"github.com/agora-cluster/agora/sdk/wire"
)

// masters reaches the masters' HTTP APIs, following a standby's redirect
// to the leader by hand so that the answering master is known.
type masters struct {
	names  []string          // sorted
	addrs  map[string]string // name → host:port
	byAddr map[string]string // host:port → name
	client *http.Client
}

func newMasters(ms map[string]MasterAddrs, timeout time.Duration) *masters {
	m := &masters{addrs: map[string]string{}, byAddr: map[string]string{}}
	for name, a := range ms {
		m.names = append(m.names, name)
		m.addrs[name] = a.HTTP
		m.byAddr[a.HTTP] = name
	}
	sortStrings(m.names)
	m.client = &http.Client{
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second},
	}
	return m
}

// reply is one HTTP exchange's end.
type reply struct {
	status int
	body   []byte
	server string // the master that gave the final answer
}

// do sends a request to master name and follows up to three redirects.
func (m *masters) do(ctx context.Context, method, name, path string, body []byte) (reply, error) {
	target := "http://" + m.addrs[name] + path
	for hop := 0; hop < 4; hop++ {
		req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
		if err != nil {
			return reply{}, err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := m.client.Do(req)
		if err != nil {
			return reply{server: m.byAddr[req.URL.Host]}, err
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
		resp.Body.Close()
		r := reply{status: resp.StatusCode, body: b, server: m.byAddr[req.URL.Host]}
		if err != nil {
			return r, err
		}
		if resp.StatusCode != http.StatusTemporaryRedirect {
			return r, nil
		}
		loc, err := resp.Location()
		if err != nil {
			return r, fmt.Errorf("redirect without a location: %w", err)
		}
		target = loc.String()
	}
	return reply{}, errors.New("too many redirects")
}

// notSent reports whether err shows that a request never reached a server
// (it could not connect), so that it surely had no effect.
func notSent(err error) bool {
	var op *net.OpError
	return (errors.As(err, &op) && op.Op == "dial") || errors.Is(err, syscall.ECONNREFUSED)
}

// roleView is a role in GET /api/v1/roles.
type roleView struct {
	Name   string  `json:"name"`
	Weight float64 `json:"weight"`
}

// frameworkView is a framework in GET /api/v1/frameworks.
type frameworkView struct {
	ID string `json:"id"`
}

// registryClients runs the linearizability clients.
type registryClients struct {
	cfg   Config
	m     *masters
	rec   *lincheck.Recorder
	value atomic.Int64 // written weights are unique: 1, 2, 3, ...
}

// roleClient writes and reads roles, and reads the framework list, at
// random masters until ctx ends.
func (rc *registryClients) roleClient(ctx context.Context, client int, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	for pause(ctx, time.Duration(50+rng.Intn(200))*time.Millisecond) {
		name := rc.m.names[rng.Intn(len(rc.m.names))]
		switch n := rng.Intn(10); {
		case n < 4:
			rc.writeRole(ctx, client, name, rc.cfg.Roles[rng.Intn(len(rc.cfg.Roles))])
		case n < 7:
			rc.readRoles(ctx, client, name)
		default:
			rc.readFrameworks(ctx, client, name)
		}
	}
}

func (rc *registryClients) writeRole(ctx context.Context, client int, master, role string) {
	v := float64(rc.value.Add(1))
	body, _ := json.Marshal(map[string]float64{"weight": v})
	op := lincheck.Op{Client: client, Kind: lincheck.RoleWrite, Key: role, Value: v, Call: rc.rec.Now()}
	r, err := rc.m.do(ctx, http.MethodPut, master, "/api/v1/roles/"+role, body)
	op.Return, op.Server = rc.rec.Now(), r.server
	switch {
	case err != nil && ctx.Err() != nil:
		op.Outcome, op.Err = lincheck.Unknown, "cancelled: "+err.Error()
	case err != nil && notSent(err):
		op.Outcome, op.Err = lincheck.Failed, err.Error()
	case err != nil:
		op.Outcome, op.Err = lincheck.Unknown, err.Error()
	case r.status == http.StatusOK:
		op.Outcome = lincheck.OK
	case r.status == http.StatusBadRequest || r.status == http.StatusForbidden || r.status == http.StatusNotFound || r.status == http.StatusConflict:
		op.Outcome, op.Err = lincheck.Failed, fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body))
	case r.status == http.StatusServiceUnavailable && bytes.Contains(r.body, []byte("is a standby")):
		// A standby that knows no leader answers before touching raft.
		op.Outcome, op.Err = lincheck.Failed, fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body))
	default:
		op.Outcome, op.Err = lincheck.Unknown, fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body))
	}
	rc.rec.Add(op)
}

func (rc *registryClients) readRoles(ctx context.Context, client int, master string) {
	op := lincheck.Op{Client: client, Kind: lincheck.RoleRead, Call: rc.rec.Now(), Outcome: lincheck.Failed}
	r, err := rc.m.do(ctx, http.MethodGet, master, "/api/v1/roles", nil)
	op.Return, op.Server = rc.rec.Now(), r.server
	var roles []roleView
	switch {
	case err != nil:
		op.Err = err.Error()
	case r.status != http.StatusOK:
		op.Err = fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body))
	case json.Unmarshal(r.body, &roles) != nil:
		op.Err = "undecodable roles: " + string(r.body)
	default:
		op.Outcome = lincheck.OK
		op.Roles = map[string]float64{}
		for _, rv := range roles {
			op.Roles[rv.Name] = rv.Weight
		}
	}
	rc.rec.Add(op)
}

func (rc *registryClients) readFrameworks(ctx context.Context, client int, master string) {
	op := lincheck.Op{Client: client, Kind: lincheck.FrameworkRead, Call: rc.rec.Now(), Outcome: lincheck.Failed}
	r, err := rc.m.do(ctx, http.MethodGet, master, "/api/v1/frameworks", nil)
	op.Return, op.Server = rc.rec.Now(), r.server
	var fws []frameworkView
	switch {
	case err != nil:
		op.Err = err.Error()
	case r.status != http.StatusOK:
		op.Err = fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body))
	case json.Unmarshal(r.body, &fws) != nil:
		op.Err = "undecodable frameworks: " + string(r.body)
	default:
		op.Outcome = lincheck.OK
		op.Frameworks = []string{}
		for _, f := range fws {
			op.Frameworks = append(op.Frameworks, f.ID)
		}
	}
	rc.rec.Add(op)
}

// frameworkClient registers short-lived probe frameworks (SUBSCRIBE, then
// SUPPRESS so that they hold no offers, then TEARDOWN) until ctx ends.
func (rc *registryClients) frameworkClient(ctx context.Context, client int, seed int64) error {
	nc, err := nats.Connect(joinURLs(rc.cfg.NATSURLs()), nats.Name(fmt.Sprintf("chaos-probe-%d", client)),
		nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		return fmt.Errorf("workload: probe client: %w", err)
	}
	defer nc.Close()
	rng := rand.New(rand.NewSource(seed))
	subj := wire.NewSubjects("")
	for n := 1; pause(ctx, time.Duration(200+rng.Intn(300))*time.Millisecond); n++ {
		id := wire.FrameworkID(fmt.Sprintf("%s-p%d-%d", rc.cfg.ID, client, n))
		info := wire.FrameworkInfo{ID: id, Name: "chaos-probe", Roles: []string{"chaos-probe"}, FailoverTimeout: wire.Duration(time.Hour)}
		out := rc.call(ctx, nc, client, lincheck.FrameworkAdd, id, wire.TypeSubscribe, wire.Subscribe{Framework: info})
		if out == lincheck.Failed {
			continue
		}
		if data, err := wire.Encode(wire.TypeSuppress, string(id), 0, wire.Suppress{}); err == nil {
			_, _ = nc.Request(subj.Call(id), data, 2*time.Second)
		}
		if !pause(ctx, time.Duration(200+rng.Intn(600))*time.Millisecond) {
			return nil
		}
		// Tear it down; retry while the outcome is not known to be done.
		for try := 0; try < 5 && ctx.Err() == nil; try++ {
			if rc.call(ctx, nc, client, lincheck.FrameworkRemove, id, wire.TypeTeardown, struct{}{}) == lincheck.OK {
				break
			}
			if !pause(ctx, time.Second) {
				return nil
			}
		}
	}
	return nil
}

// call makes one registry call over NATS and records it.
func (rc *registryClients) call(ctx context.Context, nc *nats.Conn, client int, kind lincheck.Kind, id wire.FrameworkID, t wire.Type, body any) lincheck.Outcome {
	data, err := wire.Encode(t, string(id), 0, body)
	if err != nil {
		return lincheck.Failed
	}
	op := lincheck.Op{Client: client, Kind: kind, Key: string(id), Call: rc.rec.Now()}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	msg, err := nc.RequestWithContext(cctx, wire.NewSubjects("").Call(id), data)
	cancel()
	op.Return = rc.rec.Now()
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		op.Outcome, op.Err = lincheck.Failed, err.Error()
	case err != nil:
		op.Outcome, op.Err = lincheck.Unknown, err.Error()
	default:
		env, derr := wire.Decode(msg.Data)
		op.Server = env.From
		var we *wire.Error
		rerr := wire.ReplyError(env)
		switch {
		case derr != nil:
			op.Outcome, op.Err = lincheck.Unknown, derr.Error()
		case rerr == nil:
			op.Outcome = lincheck.OK
		case errors.As(rerr, &we) && (we.Code == wire.CodeInvalid || we.Code == wire.CodeForbidden ||
			(kind == lincheck.FrameworkRemove && we.Code == wire.CodeUnknownFramework)):
			op.Outcome, op.Err = lincheck.Failed, rerr.Error()
		default:
			op.Outcome, op.Err = lincheck.Unknown, rerr.Error()
		}
	}
	rc.rec.Add(op)
	return op.Outcome
}

// pause waits d unless ctx ends first; it reports whether to go on.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
