package natsembed

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/sdk/sdktest/logrec"
)

// waitFor polls cond every 10 ms until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func start(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

func connect(t *testing.T, url, user, pass string) *nats.Conn {
	t.Helper()
	var opts []nats.Option
	if user != "" {
		opts = append(opts, nats.UserInfo(user, pass))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// delivered publishes on pub until sub's subscription sees a message or
// d passes, and reports whether one arrived.
func delivered(t *testing.T, pub, sub *nats.Conn, subject string, d time.Duration) bool {
	t.Helper()
	ch := make(chan *nats.Msg, 16)
	s, err := sub.ChanSubscribe(subject, ch)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Unsubscribe() }()
	if err := sub.Flush(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		_ = pub.Publish(subject, []byte("hi"))
		_ = pub.Flush()
		select {
		case <-ch:
			return true
		case <-time.After(20 * time.Millisecond):
		}
	}
	return false
}

// TestRouteAuthentication: members that present the cluster credentials
// form one NATS cluster; a server that routes to a member with wrong
// credentials, or none, is refused, never gets a route, and what is
// published on it reaches no member. The credentials are given either
// explicitly or derived from the masters' auth file.
func TestRouteAuthentication(t *testing.T) {
	auth := &Auth{Users: []User{
		{Name: "master", Password: "m-secret", Kind: KindMaster},
		{Name: "fw", Password: "fw-secret", Kind: KindFramework, ID: "fw-1"},
	}}
	for _, tc := range []struct {
		name string
		// member adjusts a member's config; intruders get none of it.
		member     func(*Config)
		user, pass string // the members' client login ("" for none)
	}{
		{name: "explicit", member: func(c *Config) { c.ClusterUser, c.ClusterPassword = "route", "r-secret" }},
		{name: "from-auth-file", member: func(c *Config) { c.Auth = auth }, user: "master", pass: "m-secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logrec.Recorder{}
			cfg := Config{Name: "n1", Cluster: "127.0.0.1:-1", Logger: slog.New(logs)}
			tc.member(&cfg)
			first := start(t, cfg)
			if !first.RouteAuth() {
				t.Fatal("the route listener does not require credentials")
			}
			members := []*Server{first}
			for _, name := range []string{"n2", "n3"} {
				cfg := Config{Name: name, Cluster: "127.0.0.1:-1", Routes: []string{first.RouteURL()}}
				tc.member(&cfg)
				members = append(members, start(t, cfg))
			}
			// n2 and n3 learn of each other through n1's gossip: that
			// implicit route must authenticate too.
			waitFor(t, 10*time.Second, func() bool {
				for _, s := range members {
					if s.NumPeers() != 2 {
						return false
					}
				}
				return true
			}, "three members with two routes each")
			pub := connect(t, members[0].ClientURL(), tc.user, tc.pass)
			sub := connect(t, members[2].ClientURL(), tc.user, tc.pass)
			if !delivered(t, pub, sub, "x", 10*time.Second) {
				t.Fatal("a message did not cross the authenticated cluster")
			}

			for _, in := range []struct {
				name string
				cfg  Config
			}{
				{"no credentials", Config{Name: "intruder1", Cluster: "127.0.0.1:-1", Routes: []string{first.RouteURL()}}},
				{"wrong password", Config{Name: "intruder2", Cluster: "127.0.0.1:-1", Routes: []string{first.RouteURL()},
					ClusterUser: "route", ClusterPassword: "guess"}},
				{"wrong password in the URL", Config{Name: "intruder3", Cluster: "127.0.0.1:-1",
					Routes: []string{strings.Replace(first.RouteURL(), "://", "://master:guess@", 1)}}},
			} {
				refusals := logs.Count("auth")
				intruder := start(t, in.cfg)
				// The member logs its refusal; the intruder may count the
				// route until the member's close reaches it.
				waitFor(t, 10*time.Second, func() bool { return logs.Count("auth") > refusals },
					in.name+": the member to refuse the route")
				waitFor(t, 10*time.Second, func() bool { return intruder.NumRoutes() == 0 },
					in.name+": the intruder's refused route to close")
				for i, s := range members {
					if n := s.NumPeers(); n != 2 {
						t.Fatalf("%s: member %d routes to %d servers, want 2", in.name, i+1, n)
					}
				}
				ipub := connect(t, intruder.ClientURL(), "", "")
				if delivered(t, ipub, sub, "x", 500*time.Millisecond) {
					t.Fatalf("%s: a message published on the intruder reached a member", in.name)
				}
				intruder.Shutdown()
			}
		})
	}
}

// TestRouteCredentialsConfig: a user without a password (or the
// reverse) is a configuration error, and the password never appears in
// an error about a route URL.
func TestRouteCredentialsConfig(t *testing.T) {
	if _, err := Start(Config{Cluster: "127.0.0.1:-1", ClusterUser: "route"}); err == nil {
		t.Error("a cluster user without a password was accepted")
	}
	if _, err := Start(Config{Cluster: "127.0.0.1:-1", ClusterPassword: "x"}); err == nil {
		t.Error("a cluster password without a user was accepted")
	}
	_, err := Start(Config{Cluster: "127.0.0.1:-1", Routes: []string{"nats-route://u:topsecret@127.0.0.1:%zz"}})
	if err == nil {
		t.Fatal("a bad route URL was accepted")
	}
	if strings.Contains(err.Error(), "topsecret") {
		t.Errorf("the error shows the password: %v", err)
	}
}

// TestNoRouteAuthByDefault: without credentials or an auth file the route
// listener stays open, as before (a trusted network).
func TestNoRouteAuthByDefault(t *testing.T) {
	s := start(t, Config{Cluster: "127.0.0.1:-1"})
	if s.RouteAuth() {
		t.Fatal("route auth without credentials")
	}
}
