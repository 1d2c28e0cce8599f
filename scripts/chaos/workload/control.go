package workload

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"sort"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

// agentView is an agent in GET /api/v1/agents.
type agentView struct {
	ID        string         `json:"id"`
	Resources wire.Resources `json:"resources"`
	Used      wire.Resources `json:"used"`
	Offered   wire.Resources `json:"offered"`
	State     string         `json:"state"`
}

// accountingProblems returns what is wrong with the agents' resource
// accounting: offered + used must fit in the total, nothing negative.
func accountingProblems(agents []agentView) []string {
	var out []string
	for _, a := range agents {
		for name, r := range map[string]wire.Resources{"used": a.Used, "offered": a.Offered} {
			if !r.Contains(wire.Resources{}) || r.Validate() != nil {
				out = append(out, fmt.Sprintf("agent %s: %s %s is negative or invalid", a.ID, name, r))
			}
		}
		if sum := a.Used.Add(a.Offered); !a.Resources.Contains(sum) {
			out = append(out, fmt.Sprintf("agent %s: used %s + offered %s exceeds total %s", a.ID, a.Used, a.Offered, a.Resources))
		}
	}
	return out
}

// sample checks the accounting every interval until ctx ends.
func (w *runner) sample(ctx context.Context, every time.Duration) {
	rng := rand.New(rand.NewSource(w.cfg.Seed + 77))
	for pause(ctx, every) {
		name := w.masters.names[rng.Intn(len(w.masters.names))]
		r, err := w.masters.do(ctx, http.MethodGet, name, "/api/v1/agents", nil)
		if err != nil || r.status != http.StatusOK {
			continue
		}
		var agents []agentView
		if json.Unmarshal(r.body, &agents) != nil {
			continue
		}
		probs := accountingProblems(agents)
		w.mu.Lock()
		w.samples++
		for _, p := range probs {
			if len(w.allocViolations) < 100 {
				w.allocViolations = append(w.allocViolations, fmt.Sprintf("%.3fs (answered by %s): %s", float64(w.now())/1e9, r.server, p))
			}
		}
		w.mu.Unlock()
	}
}

// serveControl serves the control API on the Unix socket:
//
//	GET  /status   Status
//	POST /start    start the frameworks and clients
//	POST /drain    stop new work; service instances are killed
//	POST /finish   stop everything, write record.json, answer the Record
//
// A request in proxy form ("GET http://10.77.0.11:5050/... HTTP/1.1") is
// forwarded from inside the namespace, without following redirects: the
// harness reaches the masters this way.
func (w *runner) serveControl(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(rw http.ResponseWriter, r *http.Request) {
		writeJSON(rw, w.status())
	})
	mux.HandleFunc("POST /start", func(rw http.ResponseWriter, r *http.Request) {
		w.begin()
		writeJSON(rw, w.status())
	})
	mux.HandleFunc("POST /drain", func(rw http.ResponseWriter, r *http.Request) {
		w.startDrain()
		writeJSON(rw, w.status())
	})
	mux.HandleFunc("POST /finish", func(rw http.ResponseWriter, r *http.Request) {
		rec, err := w.finish()
		if err != nil {
			http.Error(rw, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(rw, rec)
	})
	proxy := &http.Transport{DisableKeepAlives: true, ResponseHeaderTimeout: 10 * time.Second}
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if r.URL.IsAbs() {
				forward(rw, r, proxy)
				return
			}
			mux.ServeHTTP(rw, r)
		}),
	}
	shutdown := make(chan struct{})
	go func() {
		defer close(shutdown)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx) // waits for answers in progress (/finish)
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	<-shutdown
	return nil
}

func forward(rw http.ResponseWriter, r *http.Request, t http.RoundTripper) {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	resp, err := t.RoundTrip(out)
	if err != nil {
		http.Error(rw, "chaos proxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		for _, v := range vs {
			rw.Header().Add(k, v)
		}
	}
	rw.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(rw, resp.Body)
}

func writeJSON(rw http.ResponseWriter, v any) {
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(v)
}

func listenUnix(path string) (net.Listener, error) {
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("workload: control socket: %w", err)
	}
	return ln, nil
}

func sortStrings(s []string) { sort.Strings(s) }
