package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/agora-cluster/agora/scripts/chaos/workload"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Ports every master uses on its own address.
const (
	raftPort  = 7000
	natsPort  = 4222
	routePort = 6222
	httpPort  = 5050
)

// Cluster is three masters, three agents and the workload, each in its own
// namespace on a private network.
type Cluster struct {
	dir     string
	runID   string
	bin     string
	log     *slog.Logger
	net     *Network
	masters map[string]*Proc
	agents  map[string]*Proc
	work    *Proc
	socket  string
	// AgentTotal is what every agent offers.
	AgentTotal wire.Resources

	ctl *http.Client // the workload's control API
	via *http.Client // the masters, through the workload's proxy
}

// Names of the nodes.
var (
	masterNames = []string{"m1", "m2", "m3"}
	agentNames  = []string{"a1", "a2", "a3"}
)

const workNode = "w"

func nodeOctets() map[string]int {
	o := map[string]int{workNode: 31}
	for i, m := range masterNames {
		o[m] = 11 + i
	}
	for i, a := range agentNames {
		o[a] = 21 + i
	}
	return o
}

func (c *Cluster) ip(node string) string { return c.net.Node(node).IP }

func (c *Cluster) httpAddr(m string) string { return fmt.Sprintf("%s:%d", c.ip(m), httpPort) }

func (c *Cluster) natsURLs() []string {
	var out []string
	for _, m := range masterNames {
		out = append(out, fmt.Sprintf("nats://%s:%d", c.ip(m), natsPort))
	}
	return out
}

// newCluster lays out the processes (nothing is started).
func newCluster(dir, runID, bin, workExe string, n *Network, log *slog.Logger) (*Cluster, error) {
	c := &Cluster{
		dir: dir, runID: runID, bin: bin, log: log, net: n,
		masters:    map[string]*Proc{},
		agents:     map[string]*Proc{},
		socket:     filepath.Join(dir, "workload.sock"),
		AgentTotal: wire.Resources{CPUs: 2, MemMB: 1024, DiskMB: 10000},
	}
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	var peers []string
	for _, m := range masterNames {
		peers = append(peers, fmt.Sprintf("%s=%s:%d", m, c.ip(m), raftPort))
	}
	for _, m := range masterNames {
		var routes []string
		for _, o := range masterNames {
			if o != m {
				routes = append(routes, fmt.Sprintf("%s:%d", c.ip(o), routePort))
			}
		}
		c.masters[m] = &Proc{
			Name: m, NS: n.Node(m).NS, LogPath: filepath.Join(logs, m+".log"),
			Args: []string{bin, "master", "--name", m,
				"--data-dir", filepath.Join(dir, "masters", m),
				"--raft-addr", fmt.Sprintf("%s:%d", c.ip(m), raftPort),
				"--peers", strings.Join(peers, ","),
				"--http", c.httpAddr(m),
				"--nats-listen", fmt.Sprintf("%s:%d", c.ip(m), natsPort),
				"--nats-cluster", fmt.Sprintf("%s:%d", c.ip(m), routePort),
				"--nats-routes", strings.Join(routes, ","),
			},
		}
	}
	for _, a := range agentNames {
		c.agents[a] = &Proc{
			Name: a, NS: n.Node(a).NS, LogPath: filepath.Join(logs, a+".log"),
			Args: []string{bin, "agent", "--nats", strings.Join(c.natsURLs(), ","),
				"--work-dir", filepath.Join(dir, "agents", a),
				"--id", a, "--hostname", a,
				"--resources", c.AgentTotal.String(),
				"--kill-grace", "1s",
			},
		}
	}
	c.work = &Proc{
		Name: workNode, NS: n.Node(workNode).NS, LogPath: filepath.Join(logs, "workload.out"),
		Args: []string{workExe},
		Env:  []string{WorkloadEnv + "=" + filepath.Join(dir, "workload.json")},
	}
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", c.socket)
	}
	c.ctl = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
	proxyURL, _ := url.Parse("http://chaos-proxy")
	c.via = &http.Client{
		Timeout:       3 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{Proxy: http.ProxyURL(proxyURL), DialContext: dial, DisableKeepAlives: true},
	}
	return c, nil
}

// workloadConfig is what the workload process is given.
func (c *Cluster) workloadConfig(seed int64) workload.Config {
	cfg := workload.Config{
		ID:               c.runID,
		Masters:          map[string]workload.MasterAddrs{},
		Socket:           c.socket,
		Ledger:           filepath.Join(c.dir, "ledger"),
		OutDir:           c.dir,
		Seed:             seed,
		BatchInFlight:    8,
		ServiceInstances: 3,
		RoleClients:      3,
		FrameworkClients: 1,
		Roles:            []string{"lin-a", "lin-b", "lin-c"},
		HTTPTimeout:      workload.Duration(10 * time.Second),
	}
	for _, m := range masterNames {
		cfg.Masters[m] = workload.MasterAddrs{HTTP: c.httpAddr(m), NATS: fmt.Sprintf("nats://%s:%d", c.ip(m), natsPort)}
	}
	return cfg
}

// getJSON fetches a master's API path through the workload's proxy.
func (c *Cluster) getJSON(ctx context.Context, master, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.httpAddr(master)+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.via.Do(req)
	if err != nil {
		return fmt.Errorf("chaos: %s %s: %w", master, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("chaos: %s %s: %w", master, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("chaos: %s %s: %s: %s", master, path, resp.Status, strings.TrimSpace(string(b)))
	}
	return json.Unmarshal(b, out)
}

// control calls the workload's control API.
func (c *Cluster) control(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://workload"+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.ctl.Do(req)
	if err != nil {
		return fmt.Errorf("chaos: workload %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("chaos: workload %s: %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// ErrNoLeader is returned when no master says it leads.
var ErrNoLeader = errors.New("chaos: no leader")

// Leader asks every master and returns the one that leads (the newest
// term wins if two think they do).
func (c *Cluster) Leader(ctx context.Context) (string, uint64, error) {
	type answer struct {
		name   string
		leads  bool
		term   uint64
		answer bool
	}
	answers := make([]answer, len(masterNames))
	var wg sync.WaitGroup
	for i, m := range masterNames {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var h struct {
				Leader bool `json:"leader"`
			}
			var li wire.LeaderInfo
			a := answer{name: m}
			if c.getJSON(ctx, m, "/health", &h) == nil {
				a.answer, a.leads = true, h.Leader
				if h.Leader && c.getJSON(ctx, m, "/api/v1/leader", &li) == nil && li.Name == m {
					a.term = li.Term
				}
			}
			answers[i] = a
		}()
	}
	wg.Wait()
	best := answer{}
	for _, a := range answers {
		if a.leads && a.term > 0 && a.term >= best.term {
			best = a
		}
	}
	if best.name == "" {
		return "", 0, ErrNoLeader
	}
	return best.name, best.term, nil
}

// Healthy reports whether the cluster is whole: every master answers, one
// leads, and it lists every agent as active.
func (c *Cluster) Healthy(ctx context.Context) (string, error) {
	for _, m := range masterNames {
		var h map[string]any
		if err := c.getJSON(ctx, m, "/health", &h); err != nil {
			return "", err
		}
	}
	leader, _, err := c.Leader(ctx)
	if err != nil {
		return "", err
	}
	var agents []AgentView
	if err := c.getJSON(ctx, leader, "/api/v1/agents", &agents); err != nil {
		return "", err
	}
	active := 0
	for _, a := range agents {
		if a.State == "ACTIVE" {
			active++
		}
	}
	if active < len(agentNames) {
		return "", fmt.Errorf("chaos: %d of %d agents active at %s", active, len(agentNames), leader)
	}
	return leader, nil
}

// WaitHealthy polls Healthy until it holds or timeout passes.
func (c *Cluster) WaitHealthy(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if _, err := c.Healthy(ctx); err == nil {
			return nil
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("chaos: cluster not healthy after %s: %w", timeout, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// everything returns every process.
func (c *Cluster) everything() []*Proc {
	var out []*Proc
	for _, m := range masterNames {
		out = append(out, c.masters[m])
	}
	for _, a := range agentNames {
		out = append(out, c.agents[a])
	}
	return out
}

// HealAll resumes paused processes, restarts stopped ones and heals the
// network.
func (c *Cluster) HealAll(ctx context.Context) error {
	var errs []error
	if err := c.net.Heal(ctx); err != nil {
		errs = append(errs, err)
	}
	for _, p := range c.everything() {
		if p.Paused() {
			if err := p.Resume(); err != nil {
				errs = append(errs, err)
			}
		}
		if !p.Running() {
			if err := p.Start(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Orphans lists the processes left in the agents' namespaces besides the
// agents themselves.
func (c *Cluster) Orphans() []string {
	var out []string
	for _, a := range agentNames {
		pids, err := c.net.Pids(a)
		if err != nil {
			out = append(out, fmt.Sprintf("%s: %v", a, err))
			continue
		}
		for _, p := range pids {
			if p == c.agents[a].Pid() {
				continue
			}
			cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
			line := strings.Join(strings.Fields(strings.ReplaceAll(string(cmd), "\x00", " ")), " ")
			if len(line) > 160 {
				line = "..." + line[len(line)-157:]
			}
			out = append(out, fmt.Sprintf("%s: pid %d still runs: %s", a, p, line))
		}
	}
	return out
}

// Stop stops every process: the workload, the agents, the masters.
func (c *Cluster) Stop() {
	c.work.Stop(5 * time.Second)
	for _, a := range agentNames {
		c.agents[a].Stop(3 * time.Second)
	}
	var wg sync.WaitGroup
	for _, m := range masterNames {
		wg.Add(1)
		go func() { defer wg.Done(); c.masters[m].Stop(5 * time.Second) }()
	}
	wg.Wait()
}

// removeCgroups removes the task cgroups the run's agents left behind
// (agents create them under "agora" in each hierarchy, named after the
// framework, which starts with the run's ID).
func removeCgroups(runID string, log *slog.Logger) {
	var dirs []string
	for _, pattern := range []string{"/sys/fs/cgroup/*/agora/" + runID + "-*", "/sys/fs/cgroup/agora/" + runID + "-*"} {
		m, _ := filepath.Glob(pattern)
		dirs = append(dirs, m...)
	}
	for _, d := range dirs {
		if err := os.Remove(d); err != nil && !errors.Is(err, os.ErrNotExist) && log != nil {
			log.Warn("cannot remove task cgroup", "dir", d, "err", err)
		}
	}
}
