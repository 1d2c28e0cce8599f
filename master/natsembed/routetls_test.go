package natsembed

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/master/internal/testcert"
	"github.com/agora-cluster/agora/sdk/sdktest/logrec"
)

// TestRouteTLS: members given a certificate, its key and the CA route to
// each other over TLS and carry messages; a server that routes to a
// member in plain text gets no route and reaches nobody. A CA without a
// certificate is a configuration error.
func TestRouteTLS(t *testing.T) {
	ca, cert, key := testcert.Write(t)
	logs := &logrec.Recorder{}
	member := func(name string, routes ...string) Config {
		return Config{Name: name, Cluster: "127.0.0.1:-1", Routes: routes, TLSCert: cert, TLSKey: key, TLSCA: ca,
			ClusterUser: "route", ClusterPassword: "r-secret"}
	}
	c1 := member("n1")
	c1.Logger = slog.New(logs)
	first := start(t, c1)
	if !first.RouteTLS() {
		t.Fatal("routes are not TLS")
	}
	second := start(t, member("n2", first.RouteURL()))
	waitFor(t, 10*time.Second, func() bool { return first.NumPeers() == 1 && second.NumPeers() == 1 }, "a TLS route between two members: "+fmt.Sprint(logs.Messages()))
	tlsTo := func(s *Server) *nats.Conn {
		nc, err := nats.Connect(s.ClientURL(), nats.RootCAs(ca))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	pub, sub := tlsTo(first), tlsTo(second)
	if !delivered(t, pub, sub, "x", 10*time.Second) {
		t.Fatal("a message did not cross the TLS route")
	}

	before := logs.Count("tls")
	intruder := start(t, Config{Name: "plain", Cluster: "127.0.0.1:-1", Routes: []string{first.RouteURL()},
		ClusterUser: "route", ClusterPassword: "r-secret"})
	waitFor(t, 10*time.Second, func() bool { return logs.Count("tls") > before || intruder.NumRoutes() > 0 },
		"the member to judge the plain-text route")
	if n := intruder.NumRoutes(); n != 0 {
		t.Fatalf("a plain-text server got %d routes to a TLS member", n)
	}
	if delivered(t, connect(t, intruder.ClientURL(), "", ""), sub, "x", 500*time.Millisecond) {
		t.Fatal("a message published on the plain-text server reached a member")
	}

	if _, err := Start(Config{Cluster: "127.0.0.1:-1", TLSCA: ca}); err == nil {
		t.Fatal("route TLS with a CA but no certificate was accepted")
	}
}
