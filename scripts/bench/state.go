package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

// StatePollResult is what GET /api/v1/state requests to the leader saw:
// one goroutine making requests one after another, or several polling
// in a loop at once.
type StatePollResult struct {
	Pollers int `json:"pollers"`
	// Requests completed with 200 and a whole body; Errors did not (the
	// last one's text is LastError).
	Requests  int    `json:"requests"`
	Errors    int    `json:"errors"`
	LastError string `json:"last_error,omitempty"`
	// Seconds is how long the pollers ran; RequestsPerSecond and
	// MBPerSecond are over it, all pollers together.
	Seconds           float64 `json:"seconds"`
	RequestsPerSecond float64 `json:"requests_per_second"`
	MBPerSecond       float64 `json:"mb_per_second"`
	// Latency is from sending a request to reading its body's last byte.
	// FirstByte is until the response's headers: the master encodes the
	// whole body before it writes any of it, so this is mostly the
	// snapshot (rebuilt at most every 100 ms) and its encoding.
	Latency   Latency `json:"latency"`
	FirstByte Latency `json:"first_byte"`
	// Response body sizes in bytes, as sent (gzipped).
	BytesMean int64 `json:"bytes_mean"`
	BytesMin  int64 `json:"bytes_min"`
	BytesMax  int64 `json:"bytes_max"`
}

// StateCensus is what one /api/v1/state response listed.
type StateCensus struct {
	Bytes          int64 `json:"bytes"`
	Agents         int   `json:"agents"`
	ActiveAgents   int   `json:"active_agents"`
	Frameworks     int   `json:"frameworks"`
	Tasks          int   `json:"tasks"`
	RunningTasks   int   `json:"running_tasks"`
	Offers         int   `json:"offers"`
	CompletedTasks int   `json:"completed_tasks"`
}

// StateResult is what the state scenario measured.
type StateResult struct {
	Agents       int `json:"agents"`
	RunningTasks int `json:"running_tasks"`
	// Launch is how the tasks got running.
	Launch *LaunchResult `json:"launch"`
	// Census is what the state listed once every task ran (a request of
	// its own, not timed).
	Census StateCensus `json:"census"`
	// Sequential is StateRequests requests one after another; Polled is
	// Pollers goroutines polling while OffersPolled was measured (and on
	// until they made at least StateRequests requests).
	Sequential StatePollResult `json:"sequential"`
	Polled     StatePollResult `json:"polled"`
	Pollers    int             `json:"pollers"`
	// OffersQuiet is the offer latency (as the offers scenario measures
	// it: DECLINE → OFFERS) with nobody polling; OffersPolled the same
	// while Pollers goroutines poll /api/v1/state. Each carries the
	// master's allocation pass histogram over its samples.
	OffersQuiet  *OffersResult `json:"offers_without_polling"`
	OffersPolled *OffersResult `json:"offers_with_polling"`
	// Health is the leader's count of agents by state (its
	// agora_master_agents gauge) after each phase: agents whose
	// heartbeats the master did not handle in time show as UNREACHABLE.
	Health []AgentHealth `json:"health"`
	Tasks  TaskCounts    `json:"tasks"`
}

// AgentHealth is the leader's count of agents by state after a phase.
type AgentHealth struct {
	After  string         `json:"after"`
	Agents map[string]int `json:"agents"`
}

func runState(ctx context.Context, e *env, prof *profiler, res *Result) error {
	o := e.opts
	t := newTracker()
	t.relaunchEnded = true // the run wants its tasks running
	fws, stop, err := startOffered(ctx, e, t, o.Frameworks, e.cl == nil)
	if err != nil {
		return err
	}
	defer stop()
	r := &StateResult{Agents: e.agentCount(), Pollers: o.PollState}
	if r.Launch, err = launchAll(ctx, e, t, fws, o.Tasks, "state: launching"); err != nil {
		return err
	}
	r.RunningTasks = t.counts().running
	// Nothing is pending any more: the frameworks hold what the tasks
	// left of (nearly) every agent, to decline one offer at a time.
	if err := waitMostOffered(ctx, e, fws, res); err != nil {
		return err
	}
	settle := 3 * time.Second
	if o.Fast {
		settle = 200 * time.Millisecond
	}
	e.prog.set(true, "state: %d tasks running on %d agents; settling", r.RunningTasks, r.Agents)
	if err := sleepCtx(ctx, settle); err != nil {
		return err
	}
	url, err := e.stateURL(ctx)
	if err != nil {
		return err
	}
	if r.Census, err = stateCensus(ctx, url); err != nil {
		return err
	}
	health := func(after string) {
		h, err := e.agentHealth(ctx)
		if err != nil {
			res.note("agent states after %s: %v", after, err)
			return
		}
		r.Health = append(r.Health, AgentHealth{After: after, Agents: h})
	}
	health("launch")
	if err := prof.start(); err != nil {
		return err
	}
	sp, err := startStatePolling(ctx, e, 1, o.StateRequests, "state: sequential requests ")
	if err != nil {
		return err
	}
	defer sp.stop()
	if err := sp.waitRequests(ctx, o.StateRequests, 0); err != nil {
		return err
	}
	r.Sequential = sp.stop()
	health("sequential requests")
	// The sequential phase's garbage and connections settle before the
	// quiet offer samples.
	if err := sleepCtx(ctx, settle); err != nil {
		return err
	}
	r.OffersQuiet = offerPhase(ctx, e, t, fws, o.Samples, o.Duration, "state: offer samples without polling", res)
	if err := ctx.Err(); err != nil {
		return err
	}
	health("offers without polling")
	if sp, err = startStatePolling(ctx, e, o.PollState, 0, "state: "); err != nil {
		return err
	}
	defer sp.stop()
	r.OffersPolled = offerPhase(ctx, e, t, fws, o.Samples, o.Duration, fmt.Sprintf("state: offer samples with %d pollers", o.PollState), res)
	err = sp.waitRequests(ctx, o.StateRequests, o.Duration)
	r.Polled = sp.stop()
	prof.stop()
	if err != nil && ctx.Err() != nil {
		return err
	}
	if err != nil {
		res.note("%d pollers: %v", o.PollState, err)
	}
	health("offers with polling")
	r.Tasks = t.taskCounts(false)
	res.State = r
	stateResultFigures(res, r)
	return nil
}

// waitMostOffered waits until the frameworks hold offers for every agent
// again after a launch, or for 30 s. An offer whose ACCEPT went
// unanswered under load stays outstanding in the master and is not held
// by the framework any more; a few such agents cannot be sampled, and
// are noted.
func waitMostOffered(ctx context.Context, e *env, fws []*framework, res *Result) error {
	held, want, err := awaitOffered(ctx, e, fws, 30*time.Second, "state: offers held")
	if err == nil {
		return nil
	}
	if ctx.Err() != nil || held < want/2 {
		return fmt.Errorf("bench: offers for %d of %d agents after the launch: %w", held, want, err)
	}
	res.note("after the launch, offers were held for %d of %d agents; the rest are not sampled", held, want)
	return nil
}

func stateResultFigures(res *Result, r *StateResult) {
	c := r.Census
	res.figure("agents", float64(r.Agents), "", "", nil)
	res.figure("running tasks", float64(r.RunningTasks), "", "", nil)
	res.figure("launch throughput", r.Launch.TasksPerSecond, "tasks/s", "", nil)
	res.figure("state lists agents", float64(c.Agents), fmt.Sprintf("(%d active)", c.ActiveAgents), "", nil)
	res.figure("state lists tasks", float64(c.Tasks), fmt.Sprintf("(%d running, %d offers, %d frameworks)", c.RunningTasks, c.Offers, c.Frameworks), "", nil)
	stateFigures(res, "sequential: ", r.Sequential)
	stateFigures(res, fmt.Sprintf("%d pollers: ", r.Pollers), r.Polled)
	q, p := r.OffersQuiet, r.OffersPolled
	without, with := " (no polling)", fmt.Sprintf(" (%d pollers)", r.Pollers)
	res.figure("offer latency p50"+without, q.Latency.P50, "ms", "", nil)
	res.figure("offer latency p50"+with, p.Latency.P50, "ms", "", nil)
	res.figure("offer latency p99"+without, q.Latency.P99, "ms", "", nil)
	moved := p.Latency.P99 - q.Latency.P99
	res.figure("offer latency p99"+with, p.Latency.P99, "ms", "must not move: ≤ 1.5 × (no polling) + 1 ms",
		ptr(p.Latency.P99 <= 1.5*q.Latency.P99+1))
	res.figure("offer latency p99, polled − not polled", moved, "ms", "", nil)
	res.figure("master: allocation pass, mean"+without, q.AllocationPass.MeanMS, "ms", "", nil)
	res.figure("master: allocation pass, mean"+with, p.AllocationPass.MeanMS, "ms", "", nil)
	if len(r.Health) > 0 {
		last := r.Health[len(r.Health)-1]
		active := last.Agents["ACTIVE"]
		res.figure("agents ACTIVE at the end", float64(active), fmt.Sprintf("of %d", r.Agents), "all", ptr(active == r.Agents))
		for _, h := range r.Health {
			if h.Agents["ACTIVE"] != r.Agents {
				res.note("agents by state after %s: %v", h.After, h.Agents)
			}
		}
	}
	if q.Missed+p.Missed > 0 {
		res.note("offer samples missed (no offer within %s): %d without polling, %d with", offerTimeout, q.Missed, p.Missed)
	}
}

// stateFigures adds the figures of a polling run, each name prefixed.
func stateFigures(res *Result, prefix string, s StatePollResult) {
	res.figure(prefix+"/api/v1/state p50", s.Latency.P50, "ms", "", nil)
	res.figure(prefix+"/api/v1/state p99", s.Latency.P99, "ms", "", nil)
	res.figure(prefix+"/api/v1/state max", s.Latency.Max, "ms", "", nil)
	res.figure(prefix+"/api/v1/state requests", float64(s.Requests), fmt.Sprintf("(%d errors, %d pollers)", s.Errors, s.Pollers), "", nil)
	res.figure(prefix+"/api/v1/state requests/s", s.RequestsPerSecond, "", "", nil)
	res.figure(prefix+"/api/v1/state response size (gzip)", float64(s.BytesMean)/(1<<20), "MB", "", nil)
	if s.Errors > 0 {
		res.note("%s/api/v1/state: %d failed requests; last: %s", prefix, s.Errors, s.LastError)
	}
}

// writeComparison prints the two offer-latency distributions side by
// side.
func (r *StateResult) writeComparison(w io.Writer) error {
	q, p := r.OffersQuiet, r.OffersPolled
	if q == nil || p == nil {
		return nil
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "OFFER LATENCY, DECLINE → OFFERS\tNO POLLING\t%d POLLERS OF /api/v1/state\t\n", r.Pollers)
	row := func(name string, a, b float64) { fmt.Fprintf(tw, "%s\t%s\t%s\t\n", name, num(a), num(b)) }
	row("samples", float64(q.Latency.N), float64(p.Latency.N))
	row("missed", float64(q.Missed), float64(p.Missed))
	row("min ms", q.Latency.Min, p.Latency.Min)
	row("mean ms", q.Latency.Mean, p.Latency.Mean)
	row("p50 ms", q.Latency.P50, p.Latency.P50)
	row("p90 ms", q.Latency.P90, p.Latency.P90)
	row("p99 ms", q.Latency.P99, p.Latency.P99)
	row("max ms", q.Latency.Max, p.Latency.Max)
	row("samples/s", q.SamplesPerSecond, p.SamplesPerSecond)
	row("master: event → offers published, mean ms", q.MasterOfferLatency.MeanMS, p.MasterOfferLatency.MeanMS)
	row("master: allocation passes", float64(q.AllocationPass.Count), float64(p.AllocationPass.Count))
	row("master: allocation pass, mean ms", q.AllocationPass.MeanMS, p.AllocationPass.MeanMS)
	row("master: allocation pass, p50 ≤ ms", q.AllocationPass.P50LeMS, p.AllocationPass.P50LeMS)
	row("master: allocation pass, p99 ≤ ms", q.AllocationPass.P99LeMS, p.AllocationPass.P99LeMS)
	return tw.Flush()
}

// stateURL is the leader's /api/v1/state.
func (e *env) stateURL(ctx context.Context) (string, error) {
	li, err := e.leader(ctx)
	if err != nil {
		return "", err
	}
	if li.HTTP == "" {
		return "", errors.New("bench: the leader serves no HTTP API")
	}
	return "http://" + li.HTTP + "/api/v1/state", nil
}

// agentHealth reads the leader's count of agents by state.
func (e *env) agentHealth(ctx context.Context) (map[string]int, error) {
	li, err := e.leader(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+li.HTTP+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bench: %s/metrics: %s", li.HTTP, resp.Status)
	}
	const prefix = `agora_master_agents{state="`
	out := map[string]int{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), prefix)
		if !ok {
			continue
		}
		state, rest, ok := strings.Cut(line, `"} `)
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(rest, 64); err == nil && v > 0 {
			out[state] = int(v)
		}
	}
	return out, sc.Err()
}

// stateRequestTimeout bounds one /api/v1/state request.
const stateRequestTimeout = 2 * time.Minute

// stateCensus fetches the state once and counts what it lists.
func stateCensus(ctx context.Context, url string) (StateCensus, error) {
	var c StateCensus
	ctx, cancel := context.WithTimeout(ctx, stateRequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return c, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return c, fmt.Errorf("bench: %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return c, fmt.Errorf("bench: %s: %s", url, resp.Status)
	}
	type item struct {
		State string `json:"state"`
	}
	var body struct {
		Agents     []item     `json:"agents"`
		Frameworks []struct{} `json:"frameworks"`
		Tasks      []item     `json:"tasks"`
		Offers     []struct{} `json:"offers"`
		Completed  []struct{} `json:"completed_tasks"`
	}
	cr := &countingReader{r: resp.Body}
	if err := json.NewDecoder(cr).Decode(&body); err != nil {
		return c, fmt.Errorf("bench: %s: %w", url, err)
	}
	_, _ = io.Copy(io.Discard, cr)
	c = StateCensus{Bytes: cr.n, Agents: len(body.Agents), Frameworks: len(body.Frameworks), Tasks: len(body.Tasks),
		Offers: len(body.Offers), CompletedTasks: len(body.Completed)}
	for _, a := range body.Agents {
		if a.State == "ACTIVE" {
			c.ActiveAgents++
		}
	}
	for _, t := range body.Tasks {
		if t.State == string(wire.TaskRunning) {
			c.RunningTasks++
		}
	}
	return c, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// statePoller is n goroutines GETting the leader's /api/v1/state in a
// loop, each on a kept-alive connection of its own.
type statePoller struct {
	url    string
	n      int
	limit  int64 // requests to make in all; 0: until stopped
	issued atomic.Int64
	client *http.Client
	cancel context.CancelFunc
	wg     sync.WaitGroup
	start  time.Time
	prog   *progress
	what   string

	mu        sync.Mutex
	latency   []time.Duration
	firstByte []time.Duration
	bytes     []int64
	errs      int
	lastErr   string
	lastDone  time.Time
}

// startStatePolling starts n pollers of the leader's /api/v1/state (to
// make limit requests in all, or 0: until stopped) and returns once the
// first request has been answered, so that polling is under way.
func startStatePolling(ctx context.Context, e *env, n, limit int, what string) (*statePoller, error) {
	url, err := e.stateURL(ctx)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithCancel(ctx)
	p := &statePoller{
		url: url, n: n, limit: int64(limit), cancel: cancel, prog: e.prog, what: what,
		client: &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: n + 1,
			DisableCompression:  true, // the body stays gzipped (see get)
		}},
		start: time.Now(),
	}
	for range n {
		p.wg.Add(1)
		go func() { defer p.wg.Done(); p.loop(pctx) }()
	}
	err = poll(ctx, stateRequestTimeout, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.latency)+p.errs > 0
	})
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("bench: no answer from %s: %w", url, err)
	}
	return p, nil
}

func (p *statePoller) loop(ctx context.Context) {
	for ctx.Err() == nil {
		if p.limit > 0 && p.issued.Add(1) > p.limit {
			return
		}
		t0 := time.Now()
		first, size, err := p.get(ctx)
		done := time.Now()
		if ctx.Err() != nil {
			return // cut short by stop: not a sample
		}
		p.mu.Lock()
		if err != nil {
			p.errs++
			p.lastErr = err.Error()
		} else {
			p.latency = append(p.latency, done.Sub(t0))
			p.firstByte = append(p.firstByte, first.Sub(t0))
			p.bytes = append(p.bytes, size)
			p.lastDone = done
		}
		ok, bad := len(p.latency), p.errs
		p.mu.Unlock()
		p.prog.set(false, "%s/api/v1/state: %d requests, %d errors (%d pollers)", p.what, ok, bad, p.n)
		if err != nil {
			_ = sleepCtx(ctx, 10*time.Millisecond)
		}
	}
}

// get makes one request and reads the whole body; it returns when the
// headers arrived and the body's size. It asks for gzip, as browsers,
// curl --compressed and Go's default client do, and does not decompress:
// the pollers stand for clients on other machines, so their own CPU must
// not be taken from the master sharing this one.
func (p *statePoller) get(ctx context.Context) (time.Time, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, stateRequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return time.Time{}, 0, err
	}
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := p.client.Do(req)
	if err != nil {
		return time.Time{}, 0, err
	}
	first := time.Now()
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return first, n, err
	}
	if resp.StatusCode != http.StatusOK {
		return first, n, fmt.Errorf("%s", resp.Status)
	}
	return first, n, nil
}

// waitRequests waits until the pollers completed at least k requests
// (or, with a limit, until they made them all), for at most bound (if
// > 0).
func (p *statePoller) waitRequests(ctx context.Context, k int, bound time.Duration) error {
	if bound <= 0 {
		bound = 24 * time.Hour
	}
	err := poll(ctx, bound, func() bool {
		p.mu.Lock()
		done := len(p.latency) + p.errs
		p.mu.Unlock()
		return done >= k || (p.limit > 0 && int64(done) >= p.limit)
	})
	if err != nil {
		return fmt.Errorf("bench: waiting for %d /api/v1/state requests: %w", k, err)
	}
	return nil
}

// stop ends the polling and summarises it; it may be called again.
func (p *statePoller) stop() StatePollResult {
	p.cancel()
	p.wg.Wait()
	end := time.Now()
	p.client.CloseIdleConnections()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.limit > 0 && !p.lastDone.IsZero() {
		end = p.lastDone
	}
	r := StatePollResult{Pollers: p.n, Requests: len(p.latency), Errors: p.errs, LastError: p.lastErr,
		Latency: Summarize(p.latency), FirstByte: Summarize(p.firstByte)}
	var total int64
	for i, b := range p.bytes {
		total += b
		if i == 0 || b < r.BytesMin {
			r.BytesMin = b
		}
		r.BytesMax = max(r.BytesMax, b)
	}
	if len(p.bytes) > 0 {
		r.BytesMean = total / int64(len(p.bytes))
	}
	if s := end.Sub(p.start).Seconds(); s > 0 {
		r.Seconds = round3(s)
		r.RequestsPerSecond = round3(float64(r.Requests) / s)
		r.MBPerSecond = round3(float64(total) / (1 << 20) / s)
	}
	return r
}
