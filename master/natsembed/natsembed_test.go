package natsembed

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestThreeServersFormOneCluster: a message published on one member's
// server reaches a subscriber on another's.
func TestThreeServersFormOneCluster(t *testing.T) {
	first, err := Start(Config{Name: "n1", Cluster: "127.0.0.1:-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Shutdown()
	servers := []*Server{first}
	for _, name := range []string{"n2", "n3"} {
		s, err := Start(Config{Name: name, Cluster: "127.0.0.1:-1", Routes: []string{first.RouteURL()}})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Shutdown()
		servers = append(servers, s)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, s := range servers {
		for s.NumRoutes() < 2 {
			if time.Now().After(deadline) {
				t.Fatalf("server has %d routes, want 2", s.NumRoutes())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	sub, err := nats.Connect(servers[2].ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ch := make(chan *nats.Msg, 1)
	if _, err := sub.ChanSubscribe("x", ch); err != nil {
		t.Fatal(err)
	}
	_ = sub.Flush()
	pub, err := nats.Connect(servers[0].ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	// Interest propagates over routes asynchronously: publish until the
	// message arrives.
	for {
		_ = pub.Publish("x", []byte("hi"))
		select {
		case m := <-ch:
			if string(m.Data) != "hi" {
				t.Fatalf("got %q", m.Data)
			}
			return
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("message never crossed the cluster")
		}
	}
}

func TestBadConfig(t *testing.T) {
	for _, c := range []Config{{Listen: "nohost"}, {Listen: "127.0.0.1:99999"}, {Cluster: "127.0.0.1:x"}} {
		if _, err := Start(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
