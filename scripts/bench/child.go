package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// childStatus is one line a child agent process writes on its stdout.
type childStatus struct {
	Type string `json:"type"` // "started" or "status"
	// Agents is the number of agents the child runs.
	Agents int `json:"agents,omitempty"`
	// Terms counts registered agents by the term of their leader.
	Terms map[string]int `json:"terms,omitempty"`
	// Reached is, per term, when a tenth, two tenths, ... and all of the
	// agents were first seen registered with that term or a later one
	// (Unix nanoseconds; 0: not yet).
	Reached map[string]*tenths `json:"reached,omitempty"`
	// RSS and CPU are the child's resident bytes and CPU seconds.
	RSS uint64  `json:"rss,omitempty"`
	CPU float64 `json:"cpu_s,omitempty"`
	// Nice is the child's niceness ("started").
	Nice int `json:"nice,omitempty"`
}

// selfNice returns this process's niceness. Linux's getpriority returns
// 20 - nice; nice(1) set it before the program started, so every thread
// has it.
func selfNice() (int, error) {
	prio, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0)
	if err != nil {
		return 0, err
	}
	return 20 - prio, nil
}

// runAgentsChild is the body of `agora bench agents`: it starts agents,
// says so on out, then reports their registration state every 10 ms (when
// it changed) until ctx ends or stdin closes.
func runAgentsChild(ctx context.Context, spec agentSpec, stdin io.Reader, out io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		// The parent closes stdin (or dies): stop.
		_, _ = io.Copy(io.Discard, stdin)
		cancel()
	}()
	la, err := startLocalAgents(ctx, spec)
	if err != nil {
		return err
	}
	defer la.close()
	enc := json.NewEncoder(out)
	nice, err := selfNice()
	if err != nil {
		return err
	}
	if err := enc.Encode(childStatus{Type: "started", Agents: la.count(), Nice: nice}); err != nil {
		return err
	}
	reached := map[string]*tenths{}
	var last []byte
	lastUsage := time.Time{}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		terms := map[uint64]int{}
		for _, a := range la.agents {
			if ok, li := a.Registered(); ok {
				terms[li.Term]++
			}
		}
		st := childStatus{Type: "status", Terms: map[string]int{}, Reached: reached}
		now := time.Now().UnixNano()
		for term, n := range terms {
			st.Terms[strconv.FormatUint(term, 10)] = n
			atLeast := 0
			for t2, n2 := range terms {
				if t2 >= term {
					atLeast += n2
				}
			}
			key := strconv.FormatUint(term, 10)
			if reached[key] == nil {
				reached[key] = &tenths{}
			}
			reached[key].note(atLeast, la.count(), now)
		}
		key, _ := json.Marshal(struct {
			T map[string]int
			R map[string]*tenths
		}{st.Terms, st.Reached})
		if string(key) == string(last) && time.Since(lastUsage) < time.Second {
			continue
		}
		last = key
		if rss, cpu, err := selfUsage(); err == nil {
			st.RSS, st.CPU = rss, cpu
			lastUsage = time.Now()
		}
		if err := enc.Encode(st); err != nil {
			return err
		}
	}
}

// childAgents is a child process running agents, seen from the parent.
type childAgents struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	n     int

	mu      sync.Mutex
	nice    int // the child's niceness, as it reported
	last    childStatus
	started chan struct{}
	exited  chan struct{}
	err     error
}

// startChildAgents starts `exe bench agents ...` for spec and waits until
// its agents have started.
func startChildAgents(ctx context.Context, exe string, spec agentSpec, logLevel string, nice int) (*childAgents, error) {
	args := []string{"bench", "agents",
		"--nats", strings.Join(spec.natsURLs, ","),
		"--count", strconv.Itoa(spec.n),
		"--first", strconv.Itoa(spec.first),
		"--resources", spec.resources.String(),
		"--dir", spec.dir,
		"--log-level", logLevel,
	}
	cmd := exec.Command(exe, args...)
	if nice > 0 {
		// nice(1) sets the niceness before the program starts, so every
		// thread of the Go runtime has it (setpriority on a running
		// process changes one thread's).
		cmd = exec.Command("nice", append([]string{"-n", strconv.Itoa(nice), exe}, args...)...)
	}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start agent process %s: %w", exe, err)
	}
	c := &childAgents{cmd: cmd, stdin: stdin, n: spec.n, started: make(chan struct{}), exited: make(chan struct{})}
	go c.read(stdout)
	select {
	case <-c.started:
		return c, nil
	case <-c.exited:
		c.close()
		return nil, fmt.Errorf("bench: agent process exited before its agents started: %w", c.err)
	case <-ctx.Done():
		c.close()
		return nil, ctx.Err()
	}
}

func (c *childAgents) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	once := sync.Once{}
	for sc.Scan() {
		var st childStatus
		if err := json.Unmarshal(sc.Bytes(), &st); err != nil {
			continue
		}
		switch st.Type {
		case "started":
			c.mu.Lock()
			c.nice = st.Nice
			c.mu.Unlock()
			once.Do(func() { close(c.started) })
		case "status":
			c.mu.Lock()
			c.last = st
			c.mu.Unlock()
		}
	}
	err := c.cmd.Wait()
	c.mu.Lock()
	if err == nil {
		err = errors.New("exited")
	}
	c.err = err
	c.mu.Unlock()
	close(c.exited)
}

func (c *childAgents) count() int { return c.n }

func (c *childAgents) registeredAt(term uint64) (int, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k, cnt := range c.last.Terms {
		t, _ := strconv.ParseUint(k, 10, 64)
		if t >= term {
			n += cnt
		}
	}
	at := c.reachedLocked(term)[len(tenths{})-1]
	if n < c.n || at.IsZero() {
		return n, time.Time{}
	}
	return n, at
}

// reachedAt returns when a tenth, two tenths, ... and all of the child's
// agents were first seen registered with a leader of term ≥ term (zero:
// not yet).
func (c *childAgents) reachedAt(term uint64) []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reachedLocked(term)
}

// reachedLocked is reachedAt with c.mu held, so that registeredAt reads
// the count and the times from the same status.
func (c *childAgents) reachedLocked(term uint64) []time.Time {
	var first tenths
	for k, r := range c.last.Reached {
		t, _ := strconv.ParseUint(k, 10, 64)
		if t < term || r == nil {
			continue
		}
		for i, ns := range r {
			if ns > 0 && (first[i] == 0 || ns < first[i]) {
				first[i] = ns
			}
		}
	}
	out := make([]time.Time, len(first))
	for i, ns := range first {
		if ns > 0 {
			out[i] = time.Unix(0, ns)
		}
	}
	return out
}

// tenths holds when a tenth, two tenths, ... and all of a set of agents
// had done something (Unix nanoseconds; 0: not yet).
type tenths [10]int64

// note records that n of total had done it at now.
func (r *tenths) note(n, total int, now int64) {
	for i := range r {
		if r[i] == 0 && total > 0 && n*len(r) >= (i+1)*total {
			r[i] = now
		}
	}
}

func (c *childAgents) niceness() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nice
}

func (c *childAgents) usage() (uint64, float64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last.RSS, c.last.CPU, c.last.RSS > 0
}

// close asks the child to stop (by closing its stdin) and kills it if it
// has not within 30 s.
func (c *childAgents) close() {
	_ = c.stdin.Close()
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}
