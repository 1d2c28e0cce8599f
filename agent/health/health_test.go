package health

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

func port(t *testing.T, addr string) uint64 {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.ParseUint(p, 10, 16)
	return n
}

func TestCheckKinds(t *testing.T) {
	ctx := context.Background()
	var status = 200
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path != "/health" {
			w.WriteHeader(404)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	tgt := Target{Ports: []uint64{port(t, srv.Listener.Addr().String())}}
	httpCheck := wire.HealthCheck{Type: wire.HealthHTTP, Path: "/health"}
	if err := Check(ctx, httpCheck, tgt, time.Second); err != nil {
		t.Fatalf("healthy HTTP: %v", err)
	}
	for _, code := range []int{302, 500, 404} {
		mu.Lock()
		status = code
		mu.Unlock()
		err := Check(ctx, httpCheck, tgt, time.Second)
		if (code < 400) != (err == nil) {
			t.Errorf("status %d: err = %v", code, err)
		}
	}
	if err := Check(ctx, wire.HealthCheck{Type: wire.HealthTCP}, tgt, time.Second); err != nil {
		t.Fatalf("TCP to a listener: %v", err)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := port(t, l.Addr().String())
	l.Close()
	if err := Check(ctx, wire.HealthCheck{Type: wire.HealthTCP, Port: closed}, tgt, time.Second); err == nil {
		t.Fatal("TCP to a closed port was healthy")
	}
	if err := Check(ctx, wire.HealthCheck{Type: wire.HealthTCP, PortIndex: 3}, tgt, time.Second); err == nil {
		t.Fatal("missing port index was healthy")
	}
	dir := t.TempDir()
	cmd := wire.HealthCheck{Type: wire.HealthCommand, Command: `test "$X" = yes && test "$(pwd)" = "` + dir + `"`}
	if err := Check(ctx, cmd, Target{Dir: dir, Env: []string{"X=yes"}}, time.Second); err != nil {
		t.Fatalf("command with env and dir: %v", err)
	}
	if err := Check(ctx, cmd, Target{Dir: dir, Env: []string{"X=no"}}, time.Second); err == nil {
		t.Fatal("failing command was healthy")
	}
	start := time.Now()
	if err := Check(ctx, wire.HealthCheck{Type: wire.HealthCommand, Command: "sleep 10"}, Target{Dir: dir}, 200*time.Millisecond); err == nil {
		t.Fatal("hanging command was healthy")
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("the timeout did not stop the command")
	}
}

// TestRunReportsChangesAndGivesUp: health changes are reported once each;
// after the failure limit the checker reports Unhealthy and stops.
func TestRunReportsChangesAndGivesUp(t *testing.T) {
	var mu sync.Mutex
	healthy := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if !healthy {
			w.WriteHeader(503)
		}
	}))
	defer srv.Close()
	hc := wire.HealthCheck{Type: wire.HealthHTTP, Interval: wire.Duration(10 * time.Millisecond), ConsecutiveFailures: 3}
	events := make(chan Event, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(context.Background(), hc, Target{Ports: []uint64{port(t, srv.Listener.Addr().String())}}, func(e Event) { events <- e })
	}()
	if e := <-events; !e.Healthy || e.Unhealthy {
		t.Fatalf("first event %+v", e)
	}
	mu.Lock()
	healthy = false
	mu.Unlock()
	if e := <-events; e.Healthy || e.Unhealthy {
		t.Fatalf("change event %+v", e)
	}
	if e := <-events; !e.Unhealthy {
		t.Fatalf("final event %+v", e)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after giving up")
	}
}

// TestGracePeriod: failures during the grace period do not count.
func TestGracePeriod(t *testing.T) {
	hc := wire.HealthCheck{Type: wire.HealthCommand, Command: "exit 1", Interval: wire.Duration(5 * time.Millisecond),
		ConsecutiveFailures: 1, GracePeriod: wire.Duration(300 * time.Millisecond)}
	start := time.Now()
	var gaveUp time.Duration
	Run(context.Background(), hc, Target{Dir: t.TempDir()}, func(e Event) {
		if e.Unhealthy {
			gaveUp = time.Since(start)
		}
	})
	if gaveUp < 300*time.Millisecond {
		t.Fatalf("gave up after %s, inside the 300ms grace period", gaveUp)
	}
}
