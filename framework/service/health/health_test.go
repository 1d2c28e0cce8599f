package health

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/agora-cluster/agora/framework/service/spec"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func target(t *testing.T, rawURL string) Target {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(u.Host)
	p, _ := strconv.ParseUint(port, 10, 16)
	return Target{Host: host, Ports: []uint64{p}}
}

func check(proto spec.Protocol, path string) spec.HealthCheck {
	return spec.HealthCheck{Protocol: proto, Path: path, Timeout: spec.Duration(2 * time.Second), Interval: spec.Duration(20 * time.Millisecond)}
}

func TestProbeHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
		case "/moved":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	tg := target(t, srv.URL)
	ctx := context.Background()
	if err := Probe(ctx, check(spec.HTTP, "/ok"), tg); err != nil {
		t.Fatal(err)
	}
	if err := Probe(ctx, check(spec.HTTP, "/moved"), tg); err != nil {
		t.Fatalf("a redirect should pass: %v", err)
	}
	if err := Probe(ctx, check(spec.HTTP, "/bad"), tg); !errors.Is(err, ErrUnhealthy) {
		t.Fatalf("503 passed: %v", err)
	}
	c := check(spec.HTTP, "/ok")
	c.PortIndex = 2
	if err := Probe(ctx, c, tg); !errors.Is(err, ErrUnhealthy) {
		t.Fatalf("missing port index passed: %v", err)
	}
}

func TestProbeTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tg := target(t, "http://"+l.Addr().String())
	if err := Probe(context.Background(), check(spec.TCP, ""), tg); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if err := Probe(context.Background(), check(spec.TCP, ""), tg); !errors.Is(err, ErrUnhealthy) {
		t.Fatalf("closed port passed: %v", err)
	}
}

// TestCommandChecksAreLeftToTheAgent: Probe refuses a COMMAND check and
// the runner skips it (the agent runs it in the instance's sandbox),
// while the app's other checks are probed under their own index.
func TestCommandChecksAreLeftToTheAgent(t *testing.T) {
	cmd := check(spec.Command, "")
	cmd.Command = "true"
	if err := Probe(context.Background(), cmd, Target{}); !errors.Is(err, ErrAgentCheck) {
		t.Fatalf("Probe of a COMMAND check = %v, want ErrAgentCheck", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	results := make(chan Result, 100)
	r := NewRunner(func(res Result) {
		select {
		case results <- res:
		default:
		}
	})
	r.Watch("i1", []spec.HealthCheck{cmd, check(spec.TCP, "")}, target(t, "http://"+l.Addr().String()))
	deadline := time.After(5 * time.Second)
	for seen := 0; seen < 5; seen++ {
		select {
		case res := <-results:
			if res.Check != 1 || !res.OK {
				t.Fatalf("result %+v: only the TCP check (index 1) should be probed, and pass", res)
			}
		case <-deadline:
			t.Fatal("no results from the TCP check")
		}
	}
	r.Close()
}

func TestRunnerReportsUntilUnwatched(t *testing.T) {
	healthy := true
	var hmu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hmu.Lock()
		defer hmu.Unlock()
		if !healthy {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	results := make(chan Result, 100)
	r := NewRunner(func(res Result) {
		select {
		case results <- res:
		default:
		}
	})
	defer r.Close()
	r.Watch("i1", []spec.HealthCheck{check(spec.HTTP, "/")}, target(t, srv.URL))
	if !r.Watching("i1") {
		t.Fatal("not watching")
	}
	wait := func(ok bool) Result {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case res := <-results:
				if res.OK == ok && res.Instance == "i1" && res.Check == 0 {
					return res
				}
			case <-deadline:
				t.Fatalf("no result with ok=%v", ok)
			}
		}
	}
	wait(true)
	hmu.Lock()
	healthy = false
	hmu.Unlock()
	if res := wait(false); res.Message == "" {
		t.Fatal("failure without a message")
	}
	r.Unwatch("i1")
	if r.Watching("i1") {
		t.Fatal("still watching")
	}
}
