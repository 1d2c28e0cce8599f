package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is what one run measured. Exactly one of the scenario fields is
// set.
type Result struct {
	Scenario Scenario      `json:"scenario"`
	Date     time.Time     `json:"date"`
	Machine  Machine       `json:"machine"`
	Config   ConfigSummary `json:"config"`
	Setup    SetupResult   `json:"setup"`
	// ElapsedSeconds is the whole run, setup included.
	ElapsedSeconds float64 `json:"elapsed_seconds"`

	Offers   *OffersResult   `json:"offers,omitempty"`
	Launch   *LaunchResult   `json:"launch,omitempty"`
	Failover *FailoverResult `json:"failover,omitempty"`
	Scale    *ScaleResult    `json:"scale,omitempty"`
	Real     *RealResult     `json:"real,omitempty"`
	State    *StateResult    `json:"state,omitempty"`

	// Figures are the headline numbers, as the table prints them.
	Figures []Figure `json:"figures"`
	Notes   []string `json:"notes,omitempty"`
}

// Machine describes where the run happened.
type Machine struct {
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	Kernel     string `json:"kernel,omitempty"`
	// LoadAvg is /proc/loadavg's 1-minute load when the run started and
	// ended: other work on the machine shows here.
	LoadAvgStart float64 `json:"loadavg_start"`
	LoadAvgEnd   float64 `json:"loadavg_end"`
}

// ConfigSummary is the run's configuration, as reported.
type ConfigSummary struct {
	Masters        int      `json:"masters"`
	Agents         int      `json:"agents"`
	Frameworks     int      `json:"frameworks"`
	Tasks          int      `json:"tasks"`
	AgentResources string   `json:"agent_resources"`
	TaskResources  string   `json:"task_resources"`
	TaskDuration   string   `json:"task_duration"`
	Concurrency    int      `json:"concurrency"`
	Window         int      `json:"window,omitempty"`
	PollState      int      `json:"poll_state,omitempty"`
	RaftTimeout    string   `json:"raft_timeout,omitempty"`
	AgentDir       string   `json:"agent_dir,omitempty"`
	AgentNice      int      `json:"agent_nice,omitempty"`
	Attached       bool     `json:"attached"`
	NATS           []string `json:"nats,omitempty"`
}

// SetupResult is how long the cluster took to come up.
type SetupResult struct {
	MastersSeconds          float64 `json:"masters_seconds"`
	AgentProcesses          int     `json:"agent_processes"`
	AgentsStartSeconds      float64 `json:"agents_start_seconds"`
	AgentsRegisteredSeconds float64 `json:"agents_registered_seconds"`
}

// Figure is one headline number; Met says whether it meets its target
// (nil: no target).
type Figure struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit,omitempty"`
	Target string  `json:"target,omitempty"`
	Met    *bool   `json:"met,omitempty"`
}

func newResult(o *Options) *Result {
	r := &Result{
		Scenario: o.Scenario,
		Date:     time.Now().UTC().Truncate(time.Second),
		Machine: Machine{GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
			NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), Kernel: kernel(), LoadAvgStart: loadAvg()},
		Config: ConfigSummary{Masters: o.Masters, Agents: o.Agents, Frameworks: o.Frameworks, Tasks: o.Tasks,
			AgentResources: o.AgentResources.String(), TaskResources: o.TaskResources.String(),
			TaskDuration: o.TaskDuration.String(), Concurrency: o.Concurrency, Window: o.Window, PollState: o.PollState,
			AgentNice: o.AgentNice, Attached: o.attached(), NATS: o.NATSURLs},
	}
	if o.TaskHang {
		r.Config.TaskDuration = "hang"
	}
	if o.RaftTimeout > 0 {
		r.Config.RaftTimeout = o.RaftTimeout.String()
	}
	r.Config.AgentDir = o.AgentDir
	if o.Scenario == ScenarioReal {
		r.Config.TaskDuration = "/bin/true"
		r.Config.Masters = 1
	}
	return r
}

// loadAvg is the 1-minute load average (0 if unknown).
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func (r *Result) figure(name string, v float64, unit, target string, met *bool) {
	if target == "" {
		met = nil
	}
	r.Figures = append(r.Figures, Figure{Name: name, Value: round3(v), Unit: unit, Target: target, Met: met})
}

func (r *Result) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

func ptr[T any](v T) *T { return &v }

// WriteJSON writes the result as indented JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the result for people: the run's setting, then one
// line per figure with its target and whether it was met.
func (r *Result) WriteTable(w io.Writer) error {
	c := r.Config
	fmt.Fprintf(w, "agora bench %s — %s, %s %s/%s, %d CPUs\n", r.Scenario, r.Date.Format("2006-01-02 15:04 MST"),
		r.Machine.GoVersion, r.Machine.OS, r.Machine.Arch, r.Machine.NumCPU)
	where := "in-process cluster"
	if c.Attached {
		where = "attached to " + strings.Join(c.NATS, ",")
	}
	tasks := fmt.Sprintf("%d tasks (%s, %s)", c.Tasks, c.TaskResources, c.TaskDuration)
	if r.Scenario == ScenarioOffers {
		tasks = "no tasks"
	}
	fmt.Fprintf(w, "%d master(s), %d agents (%s; %s), %d framework(s), %s; %s\n",
		c.Masters, c.Agents, c.AgentResources, placeOf(r.Setup.AgentProcesses), c.Frameworks, tasks, where)
	fmt.Fprintf(w, "setup: masters %.1f s, agents started %.1f s, all registered %.1f s; run %.1f s; load average %.2f → %.2f\n\n",
		r.Setup.MastersSeconds, r.Setup.AgentsStartSeconds, r.Setup.AgentsRegisteredSeconds, r.ElapsedSeconds,
		r.Machine.LoadAvgStart, r.Machine.LoadAvgEnd)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tVALUE\tTARGET\tMET")
	for _, f := range r.Figures {
		met := ""
		if f.Met != nil {
			met = map[bool]string{true: "yes", false: "NO"}[*f.Met]
		}
		fmt.Fprintf(tw, "%s\t%s %s\t%s\t%s\n", f.Name, num(f.Value), f.Unit, f.Target, met)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.State != nil {
		if err := r.State.writeComparison(w); err != nil {
			return err
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	return nil
}

// num prints a figure without needless decimals.
func num(v float64) string {
	switch {
	case v == float64(int64(v)):
		return fmt.Sprintf("%d", int64(v))
	case v >= 100 || v <= -100:
		return fmt.Sprintf("%.0f", v)
	case v >= 1 || v <= -1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}
