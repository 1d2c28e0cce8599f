package master_test

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agora-cluster/agora/master"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

var noRedirect = &http.Client{
	Timeout:       5 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func get(t *testing.T, c *http.Client, url string, out any) *http.Response {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: %v: %s", url, err, b)
		}
	}
	if resp.StatusCode >= 400 {
		var e struct{ Error string }
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			t.Fatalf("%s: %d without an error message: %s", url, resp.StatusCode, b)
		}
	}
	return resp
}

func send(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	return sendAs(t, "", method, url, body)
}

// sendAs sends a request with the operator token (none if "").
func sendAs(t *testing.T, token, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHTTPAPI(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(3), sdktest.Agents(2, "cpus:2;mem:512"), sdktest.Simulated())
	leader := c.Leader()
	var standby *master.Master
	for _, m := range c.Masters() {
		if m != leader {
			standby = m
		}
	}
	taskRes := wire.Resources{CPUs: 1, MemMB: 64}
	_, _, o := c.RunTask(t, wire.FrameworkInfo{Name: "api", Roles: []string{"web"}},
		wire.TaskInfo{TaskID: "t1", Resources: taskRes, Sim: &wire.SimBehavior{Hang: true}})
	base := "http://" + leader.HTTPAddr()

	// /leader is answered by every master, standbys included.
	var li wire.LeaderInfo
	get(t, noRedirect, "http://"+standby.HTTPAddr()+"/api/v1/leader", &li)
	if li.Name != leader.Name() || li.Term != leader.Term() || li.HTTP != leader.HTTPAddr() {
		t.Fatalf("standby's /leader = %+v, leader is %s term %d", li, leader.Name(), leader.Term())
	}

	// A standby redirects state reads to the leader with 307.
	resp := get(t, noRedirect, "http://"+standby.HTTPAddr()+"/api/v1/state?x=1", nil)
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != base+"/api/v1/state?x=1" {
		t.Fatalf("standby answered %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	var st master.State
	get(t, http.DefaultClient, "http://"+standby.HTTPAddr()+"/api/v1/state", &st) // follows the redirect
	if st.Leader != leader.Name() || len(st.Agents) != 2 || len(st.Frameworks) != 1 || len(st.Tasks) != 1 {
		t.Fatalf("state = leader %s, %d agents, %d frameworks, %d tasks", st.Leader, len(st.Agents), len(st.Frameworks), len(st.Tasks))
	}
	if st.Tasks[0].ID != "t1" || st.Tasks[0].State != wire.TaskRunning || st.Frameworks[0].Role != "web" {
		t.Fatalf("state = %+v", st)
	}
	var used wire.Resources
	for _, a := range st.Agents {
		used = used.Add(a.Used)
		if a.State != "ACTIVE" || a.Hostname == "" {
			t.Fatalf("agent view %+v", a)
		}
	}
	if !used.Equal(taskRes) {
		t.Fatalf("used = %s, want %s", used, taskRes)
	}

	// Tasks: filters and pagination; bad parameters are 400 with a message.
	var page master.TaskPage
	get(t, http.DefaultClient, base+"/api/v1/tasks?state=TASK_RUNNING&limit=1", &page)
	if page.Total != 1 || len(page.Tasks) != 1 || page.Tasks[0].ID != "t1" {
		t.Fatalf("tasks page = %+v", page)
	}
	get(t, http.DefaultClient, base+"/api/v1/tasks?framework=nope", &page)
	if page.Total != 0 {
		t.Fatalf("filter by unknown framework = %+v", page)
	}
	for _, q := range []string{"limit=0", "limit=x", "offset=-1", "state=RUNNING"} {
		if r := get(t, http.DefaultClient, base+"/api/v1/tasks?"+q, nil); r.StatusCode != 400 {
			t.Errorf("?%s: %d, want 400", q, r.StatusCode)
		}
	}

	// Members: all three, one leader.
	var mem []master.Member
	sdktest.Eventually(t, 5*time.Second, func() bool {
		get(t, http.DefaultClient, "http://"+standby.HTTPAddr()+"/api/v1/members", &mem)
		leaders, followers := 0, 0
		for _, m := range mem {
			switch m.State {
			case "Leader":
				leaders++
			case "Follower":
				followers++
			}
		}
		return len(mem) == 3 && leaders == 1 && followers == 2
	}, "members to report one leader and two followers: %+v", mem)

	// Roles: set through raft, read back from any master's registry.
	code, body := send(t, "PUT", base+"/api/v1/roles/web", `{"weight":2,"quota":{"cpus":1.5}}`)
	if code != 200 {
		t.Fatalf("set role: %d %s", code, body)
	}
	sdktest.Eventually(t, 5*time.Second, func() bool { return standby.Registry().Role("web").Weight == 2 }, "role replicated to the standby")
	for _, bad := range []string{`{"weight":-1}`, `{"wieght":2}`, `{"quota":{"cpus":-1}}`, `not json`} {
		if code, body := send(t, "PUT", base+"/api/v1/roles/web", bad); code != 400 || !strings.Contains(body, "error") {
			t.Errorf("bad role %s: %d %s", bad, code, body)
		}
	}
	if standby.Registry().Role("web").Weight != 2 {
		t.Fatal("a refused role change changed the role")
	}
	// Prometheus metrics on the leader.
	code, metrics := send(t, "GET", base+"/metrics", "")
	for _, want := range []string{"agora_master_is_leader 1", `agora_master_tasks{state="TASK_RUNNING"} 1`,
		`agora_master_agents{state="ACTIVE"} 2`, `agora_master_offers_total{event="accepted"} 1`,
		"agora_master_allocation_pass_seconds_count", "agora_master_raft_commit_seconds_count", "agora_master_nats_connected 1"} {
		if code != 200 || !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if _, sm := send(t, "GET", "http://"+standby.HTTPAddr()+"/metrics", ""); !strings.Contains(sm, "agora_master_is_leader 0") {
		t.Error("standby metrics do not say it is not the leader")
	}

	// Drain of an unknown agent is 404; a bad grace is 400.
	if code, _ := send(t, "POST", base+"/api/v1/agents/nope/drain", `{}`); code != 404 {
		t.Errorf("drain unknown agent: %d", code)
	}
	if code, _ := send(t, "POST", base+"/api/v1/agents/"+string(o.AgentID)+"/drain", `{"grace":"soon"}`); code != 400 {
		t.Errorf("drain with bad grace: %d", code)
	}
}

// TestSandboxAPI reads a task's stdout through the leader, which asks the
// agent over NATS; ranges, listing and bad paths behave.
func TestSandboxAPI(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:1;mem:256"))
	d, rec, o := c.Offered(t, wire.FrameworkInfo{Name: "sandbox"}, nil)
	if _, err := d.Launch(sdktest.Ctx(t, 5*time.Second), o, shellTask("echo", "echo hello-sandbox; echo oops >&2")); err != nil {
		t.Fatal(err)
	}
	rec.WaitState(t, 10*time.Second, "echo", wire.TaskFinished)
	base := "http://" + c.Leader().HTTPAddr() + "/api/v1/agents/" + string(o.AgentID) + "/sandbox/" + string(d.FrameworkID()) + "/echo"
	if code, body := send(t, "GET", base+"/stdout", ""); code != 200 || body != "hello-sandbox\n" {
		t.Fatalf("stdout: %d %q", code, body)
	}
	if code, body := send(t, "GET", base+"/stdout?offset=-8", ""); code != 200 || body != "sandbox\n" {
		t.Fatalf("tail: %d %q", code, body)
	}
	if code, body := send(t, "GET", base+"/stderr?offset=1&length=2", ""); code != 200 || body != "op" {
		t.Fatalf("range: %d %q", code, body)
	}
	var list wire.SandboxData
	get(t, http.DefaultClient, base, &list)
	names := []string{}
	for _, f := range list.Files {
		names = append(names, f.Path)
	}
	// stdout and stderr, in order; the agent may keep other files there
	// (framework-messages).
	if !slices.IsSorted(names) || !slices.Contains(names, "stderr") || !slices.Contains(names, "stdout") {
		t.Fatalf("listing = %v", names)
	}
	for url, want := range map[string]int{
		base + "/..%2F..%2F..%2Fetc%2Fpasswd": 400,
		base + "/nope":                        404,
		base + "/stdout?offset=x":             400,
		"http://" + c.Leader().HTTPAddr() + "/api/v1/agents/nope/sandbox/f/t/stdout": 404,
	} {
		if code, body := send(t, "GET", url, ""); code != want {
			t.Errorf("%s: %d %s, want %d", url, code, body, want)
		}
	}
}

// TestStateEncodings checks that /api/v1/state is the same view whether
// it is fetched gzipped or plain, and that it shows a running task.
func TestStateEncodings(t *testing.T) {
	c := sdktest.Start(t, sdktest.Agents(1, "cpus:2;mem:512"), sdktest.Simulated())
	c.RunTask(t, wire.FrameworkInfo{Name: "enc"}, wire.TaskInfo{TaskID: "t1", Resources: wire.Resources{CPUs: 1, MemMB: 64}, Sim: &wire.SimBehavior{Hang: true}})
	url := "http://" + c.Leader().HTTPAddr() + "/api/v1/state"
	fetch := func(enc string) (master.State, string) {
		t.Helper()
		var st master.State
		deadline := time.Now().Add(5 * time.Second)
		for {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("Accept-Encoding", enc)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var r io.Reader = resp.Body
			if resp.Header.Get("Content-Encoding") == "gzip" {
				if r, err = gzip.NewReader(resp.Body); err != nil {
					t.Fatal(err)
				}
			}
			b, err := io.ReadAll(r)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &st); err != nil {
				t.Fatalf("Accept-Encoding %q: %v", enc, err)
			}
			// Wait until the cached view has caught up with the launch.
			if len(st.Tasks) == 1 && st.Tasks[0].State == wire.TaskRunning || time.Now().After(deadline) {
				return st, resp.Header.Get("Content-Encoding")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	plain, penc := fetch("identity")
	zipped, zenc := fetch("gzip")
	if penc != "" || zenc != "gzip" {
		t.Fatalf("Content-Encoding: plain %q, gzip %q", penc, zenc)
	}
	if len(plain.Tasks) != 1 || plain.Tasks[0].ID != "t1" || plain.Tasks[0].State != wire.TaskRunning {
		t.Fatalf("state tasks = %+v, want t1 running", plain.Tasks)
	}
	pj, _ := json.Marshal(plain)
	zj, _ := json.Marshal(zipped)
	if string(pj) != string(zj) {
		t.Fatalf("gzipped state differs from plain:\n%s\n%s", zj, pj)
	}
	if len(plain.Agents) != 1 || plain.Agents[0].Used.CPUs != 1 || plain.Leader != c.Leader().Name() {
		t.Fatalf("state agents = %+v leader %q", plain.Agents, plain.Leader)
	}
}
