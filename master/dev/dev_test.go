package dev

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/urfave/cli/v2"

	"github.com/agora-cluster/agora/master/natsembed"
	"github.com/agora-cluster/agora/master/operator"
	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/sdktest/logrec"
	"github.com/agora-cluster/agora/sdk/wire"
)

// syncBuffer is an io.Writer that a test can read while the command
// writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runDev runs `agora dev ARGS` in-process on free ports and returns what
// it printed once it is up, and the running cluster. The command is
// stopped (as by Ctrl-C) when the test ends, and must then return nil.
func runDev(t *testing.T, args ...string) (string, *Cluster) {
	t.Helper()
	out, d, stop := startDev(t, args...)
	t.Cleanup(stop)
	return out, d
}

// startDev starts agora dev with args; stop stops it and checks that it
// stopped cleanly.
func startDev(t *testing.T, args ...string) (string, *Cluster, func()) {
	t.Helper()
	out := &syncBuffer{}
	started := make(chan *Cluster, 1)
	app := &cli.App{Name: "agora", Writer: out, ErrWriter: io.Discard,
		Commands: []*cli.Command{command(func(d *Cluster) { started <- d })}}
	ctx, cancel := context.WithCancel(context.Background())
	var runErr error
	finished := make(chan struct{})
	argv := append([]string{"agora", "dev", "--nats-port", "0", "--http-port", "0", "--batch-port", "0",
		"--service-port", "0", "--log-level", "error"}, args...)
	go func() { defer close(finished); runErr = app.RunContext(ctx, argv) }()
	stop := func() {
		cancel()
		select {
		case <-finished:
			if runErr != nil {
				t.Errorf("agora dev returned %v", runErr)
			} else if !strings.Contains(out.String(), "stopping") {
				t.Error("agora dev did not say it was stopping")
			}
		case <-time.After(30 * time.Second):
			t.Error("agora dev did not stop within 30 s")
		}
	}
	select {
	case d := <-started:
		return out.String(), d, stop
	case <-finished:
		t.Fatalf("agora dev ended at start: %v\n%s", runErr, out.String())
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatalf("agora dev did not start within 60 s:\n%s", out.String())
	}
	return "", nil, nil
}

// printed is what a user reads off agora dev's output.
type printed struct {
	natsURLs            []string // without credentials
	helloURLs           []string // with the printed login
	helloID             wire.FrameworkID
	masters             []string
	token               string
	authFile, tokenFile string
}

func parse(t *testing.T, out string) printed {
	t.Helper()
	var p printed
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "  NATS:"):
			p.natsURLs = strings.Split(f[1], ",")
		case strings.HasPrefix(line, "  Identities"):
			p.authFile = f[len(f)-1]
		case strings.HasPrefix(line, "  Operator token:"):
			p.tokenFile = f[len(f)-1]
		case strings.HasPrefix(line, "  export "):
			for _, kv := range f[1:] {
				k, v, _ := strings.Cut(kv, "=")
				switch k {
				case "AGORA_MASTERS":
					p.masters = strings.Split(v, ",")
				case "AGORA_TOKEN":
					p.token = v
				}
			}
		case strings.HasPrefix(line, "  go run ./examples/hello "):
			for i := 0; i+1 < len(f); i++ {
				switch f[i] {
				case "--nats":
					p.helloURLs = strings.Split(f[i+1], ",")
				case "--framework-id":
					p.helloID = wire.FrameworkID(f[i+1])
				}
			}
		}
	}
	if len(p.natsURLs) == 0 || len(p.helloURLs) == 0 || len(p.masters) == 0 {
		t.Fatalf("could not find the NATS URLs, the hello command or the masters in:\n%s", out)
	}
	return p
}

func put(t *testing.T, url, token, body string) int {
	t.Helper()
	req, err := http.NewRequest("PUT", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// TestDevIsSecuredByDefault: `agora dev` with no security flag requires
// NATS logins (clients and routes) and the operator token, keeps the
// material in its data dir readable by its owner only, and prints what
// works: the printed framework login runs a task, the printed token
// changes state (directly and through `agora cluster`), and neither works
// without them. The bundled frameworks run under their own identities.
func TestDevIsSecuredByDefault(t *testing.T) {
	dir := t.TempDir()
	out, d := runDev(t, "--agents", "1", "--data-dir", dir)
	t.Log(out)
	p := parse(t, out)

	// The material is in the data dir, 0600, and is what was printed.
	if p.authFile != filepath.Join(dir, AuthFile) || p.tokenFile != filepath.Join(dir, TokenFile) {
		t.Fatalf("printed files %q and %q, want them in %s", p.authFile, p.tokenFile, dir)
	}
	for _, f := range []string{p.authFile, p.tokenFile} {
		if m := mode(t, f); m != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, m)
		}
	}
	auth, err := natsembed.LoadAuth(p.authFile)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p.tokenFile); p.token == "" || strings.TrimSpace(string(b)) != p.token {
		t.Fatalf("token file holds %q, printed %q", b, p.token)
	}

	// NATS: no login, or a wrong one, is refused.
	if nc, err := nats.Connect(strings.Join(p.natsURLs, ",")); err == nil {
		nc.Close()
		t.Fatal("a client without credentials connected")
	}
	if nc, err := nats.Connect(sdktest.WithURLUser(p.natsURLs, ExamplesUser, "wrong")[0]); err == nil {
		nc.Close()
		t.Fatal("a client with a wrong password connected")
	}

	// The printed login and framework ID run a task to its end.
	if p.helloID != "hello" {
		t.Fatalf("printed framework ID %q", p.helloID)
	}
	rec := sdktest.NewRecorder()
	drv := d.SDK().RunDriver(t, wire.FrameworkInfo{ID: p.helloID, Name: "hello"}, rec,
		func(c *sdk.Config) { c.NATSURLs = p.helloURLs })
	rec.WaitSubscribed(t, 10*time.Second, 1)
	o := rec.TakeOffer(t, 10*time.Second, nil)
	ctx := sdktest.Ctx(t, 30*time.Second)
	if _, err := drv.Launch(ctx, o, sdk.Task("t1").Shell("echo hi").CPUs(0.1).Mem(32).Info()); err != nil {
		t.Fatal(err)
	}
	rec.WaitState(t, 20*time.Second, "t1", wire.TaskFinished)

	// The bundled frameworks subscribed as themselves: each under the
	// ID its identity is confined to.
	for name, id := range map[string]wire.FrameworkID{batchUser: d.bat.FrameworkID(), serviceUser: d.svc.FrameworkID()} {
		var u natsembed.User
		for _, x := range auth.Users {
			if x.Name == name {
				u = x
			}
		}
		if u.Kind != natsembed.KindFramework || u.ID != string(id) {
			t.Errorf("%s runs as framework %s, its identity is %+v", name, id, u)
		}
		if _, ok := d.SDK().Leader().Registry().Framework(id); !ok {
			t.Errorf("%s (%s) is not registered", name, id)
		}
	}

	// HTTP: a state change needs the token.
	leader := "http://" + d.SDK().Leader().HTTPAddr()
	if code := put(t, leader+"/api/v1/roles/dev", "", `{"weight":2}`); code != http.StatusUnauthorized {
		t.Fatalf("without the token: %d, want 401", code)
	}
	if code := put(t, leader+"/api/v1/roles/dev", "wrong", `{"weight":2}`); code != http.StatusUnauthorized {
		t.Fatalf("with a wrong token: %d, want 401", code)
	}
	if code := put(t, leader+"/api/v1/roles/dev", p.token, `{"weight":2}`); code != http.StatusOK {
		t.Fatalf("with the printed token: %d, want 200", code)
	}
	// ... and so does `agora cluster`, with what was printed.
	cluster := func(extra ...string) error {
		app := &cli.App{Name: "agora", Writer: io.Discard, ErrWriter: io.Discard, Commands: []*cli.Command{operator.Command()}}
		args := append([]string{"agora", "cluster", "--masters", strings.Join(p.masters, ",")}, extra...)
		return app.Run(append(args, "role", "set", "--weight", "3", "ops"))
	}
	if err := cluster(); err == nil {
		t.Fatal("agora cluster role set without the token succeeded")
	}
	if err := cluster("--token", p.token); err != nil {
		t.Fatalf("agora cluster role set with the printed token: %v", err)
	}

	// Routes: a NATS server that routes to a master without the
	// credentials is refused and cannot inject a framework's events.
	ilogs := &logrec.Recorder{}
	intruder, err := natsembed.Start(natsembed.Config{Name: "intruder", Cluster: "127.0.0.1:-1",
		Routes: []string{d.SDK().Masters()[0].NATSRouteURL()}, Logger: slog.New(ilogs)})
	if err != nil {
		t.Fatal(err)
	}
	defer intruder.Shutdown()
	sdktest.Eventually(t, 10*time.Second, func() bool { return ilogs.Count("authorization") > 0 || intruder.NumRoutes() > 0 },
		"the intruder's route to be judged")
	if n := intruder.NumRoutes(); n != 0 {
		t.Fatalf("an intruder without credentials has %d routes to the masters", n)
	}
	sub, err := nats.Connect(strings.Join(p.helloURLs, ","), nats.CustomInboxPrefix(wire.InboxPrefix("framework", "hello")))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	events, err := sub.SubscribeSync(wire.NewSubjects("").Framework("hello"))
	if err != nil {
		t.Fatal(err)
	}
	_ = sub.Flush()
	pub, err := nats.Connect(intruder.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	fake := wire.MustEncode(wire.TypeOffers, "fake", 1<<40, wire.Offers{})
	for range 10 {
		_ = pub.Publish(wire.NewSubjects("").Framework("hello"), fake)
	}
	_ = pub.Flush()
	// The framework's real events (heartbeats, offers) keep coming: look
	// at all of them for a while.
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		m, err := events.NextMsg(time.Until(deadline))
		if err == nil && bytes.Equal(m.Data, fake) {
			t.Fatal("a message published on the intruder reached a framework")
		}
	}
}

// TestDevInsecure: --insecure runs the cluster open, as before, and says
// so.
func TestDevInsecure(t *testing.T) {
	dir := t.TempDir()
	out, d := runDev(t, "--insecure", "--masters", "1", "--agents", "1", "--data-dir", dir)
	p := parse(t, out)
	if !strings.Contains(out, "no login") || strings.Contains(out, "AGORA_TOKEN") {
		t.Fatalf("insecure output:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, AuthFile)); err == nil {
		t.Error("an auth file was written for an insecure cluster")
	}
	nc, err := nats.Connect(strings.Join(p.natsURLs, ","))
	if err != nil {
		t.Fatalf("an open cluster refused a client: %v", err)
	}
	nc.Close()
	if code := put(t, "http://"+d.SDK().Leader().HTTPAddr()+"/api/v1/roles/dev", "", `{"weight":2}`); code != http.StatusOK {
		t.Fatalf("an open cluster answered %d to a state change", code)
	}
}

// TestCredentialsSurviveRestart: a dev cluster started again on its data
// dir keeps its passwords, token and IDs, and adds identities for new
// agents.
func TestCredentialsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	a, err := loadOrCreateCredentials(dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := loadOrCreateCredentials(dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	if a.token != b.token {
		t.Error("the operator token changed")
	}
	for _, name := range []string{masterUser, "agent1", batchUser, serviceUser, ExamplesUser} {
		ua, ub := a.user(name), b.user(name)
		if ua.Password == "" || ua.Password != ub.Password || ua.ID != ub.ID {
			t.Errorf("%s changed: %+v -> %+v", name, ua, ub)
		}
	}
	if u := b.user("agent2"); u.Kind != natsembed.KindAgent || u.ID == "" {
		t.Errorf("no identity for a new agent: %+v", u)
	}
	// The bundled frameworks will subscribe as their identities' IDs.
	for f, user := range map[string]string{batchIDFile: batchUser, serviceIDFile: serviceUser} {
		got, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || strings.TrimSpace(string(got)) != b.user(user).ID {
			t.Errorf("%s holds %q, want %s (%v)", f, got, b.user(user).ID, err)
		}
	}
	// A framework that already has an ID keeps it: its identity follows.
	dir2 := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir2, "batch"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir2, batchIDFile), []byte("fw-old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := loadOrCreateCredentials(dir2, 0)
	if err != nil {
		t.Fatal(err)
	}
	if id := c.user(batchUser).ID; id != "fw-old" {
		t.Errorf("batch identity confined to %s, the framework is fw-old", id)
	}
}

// TestDevRestartsOnItsDataDir: agora dev started again on the data dir of
// an earlier run comes up with the same raft members and the same agent,
// and what was committed before (a role) is still there.
func TestDevRestartsOnItsDataDir(t *testing.T) {
	dir := t.TempDir()
	_, d, stop := startDev(t, "--insecure", "--agents", "1", "--data-dir", dir)
	leader := d.SDK().Leader()
	if code := put(t, "http://"+leader.HTTPAddr()+"/api/v1/roles/kept", "", `{"weight":3}`); code != http.StatusOK {
		t.Fatalf("role set answered %d", code)
	}
	agentsBefore := d.SDK().Leader().StateView().Agents
	stop()

	_, d2, stop2 := startDev(t, "--insecure", "--agents", "1", "--data-dir", dir)
	defer stop2()
	err := sdktest.WaitFor(20*time.Second, func() bool {
		l := d2.SDK().Leader()
		if l == nil {
			return false
		}
		st := l.StateView()
		return len(st.Agents) == 1 && st.Agents[0].State == "ACTIVE"
	})
	if err != nil {
		t.Fatalf("restarted cluster: %v; state %+v", err, d2.SDK().Leader().StateView())
	}
	after := d2.SDK().Leader().StateView().Agents
	if len(agentsBefore) != 1 || after[0].ID != agentsBefore[0].ID {
		t.Fatalf("agents before %+v, after %+v: the agent should keep its ID", agentsBefore, after)
	}
	var roles []struct {
		Name   string  `json:"name"`
		Weight float64 `json:"weight"`
	}
	getJSON(t, "http://"+d2.SDK().Leader().HTTPAddr()+"/api/v1/roles", &roles)
	found := false
	for _, r := range roles {
		found = found || r.Name == "kept" && r.Weight == 3
	}
	if !found {
		t.Fatalf("roles after restart = %+v, want kept with weight 3", roles)
	}
}

func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
