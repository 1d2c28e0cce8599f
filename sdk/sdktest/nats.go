package sdktest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// StartNATS starts a bare NATS server on a free loopback port, with no
// master: for a test that plays the masters (or the agents) by hand on
// the wire. A cleanup shuts it down; its ClientURL is where to connect.
func StartNATS(t testing.TB) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatalf("sdktest: NATS server: %v", err)
	}
	go ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(5 * time.Second) {
		t.Fatal("sdktest: NATS server not ready")
	}
	return ns
}
