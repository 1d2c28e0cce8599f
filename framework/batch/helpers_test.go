package batch

import (
	"bytes"
	"context"
	"maps"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/agora-cluster/agora/agent"
	"github.com/agora-cluster/agora/agent/launcher"
	"github.com/agora-cluster/agora/framework/batch/engine"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// startFramework starts the batch framework against a test cluster.
func startFramework(t *testing.T, c *sdktest.Cluster, dataDir string) *Server {
	t.Helper()
	s, err := Start(context.Background(), Config{
		NATSURLs: c.NATSURLs(),
		DataDir:  dataDir,
		HTTPAddr: "127.0.0.1:0",
		NoSync:   true,
		// Logs through the leader's sandbox API (the default reader).
		Logger: sdktest.TestLogger(t),
		Tune: func(ec *engine.Config) {
			ec.TickInterval = 50 * time.Millisecond
			ec.ReconcileAfter = 2 * time.Second
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// runCLI runs `agora batch ARGS...` against the server.
func runCLI(t *testing.T, s *Server, args ...string) (string, string, error) {
	t.Helper()
	p := startCLI(t, s, args...)
	<-p.done
	return p.out.String(), p.errOut.String(), p.err
}

// cliProc is a CLI command running in the background.
type cliProc struct {
	out, errOut syncBuffer
	done        chan struct{}
	err         error // set when done is closed
}

// startCLI starts `agora batch ARGS...` against the server; it is
// cancelled (and waited for) when the test ends, and given 60 s at most.
func startCLI(t *testing.T, s *Server, args ...string) *cliProc {
	t.Helper()
	p := &cliProc{done: make(chan struct{})}
	app := &cli.App{Name: "agora", Commands: []*cli.Command{Command()}, Writer: &p.out, ErrWriter: &p.errOut}
	full := append([]string{"agora", "batch"}, args[0], "--api", s.Addr())
	full = append(full, args[1:]...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	go func() {
		defer close(p.done)
		defer cancel()
		p.err = app.RunContext(ctx, full)
	}()
	t.Cleanup(func() {
		cancel()
		<-p.done
	})
	return p
}

// running reports whether the command has not returned yet.
func (p *cliProc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and many readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// countingExecutor counts launches per task ID and keeps the labels
// each task reached the agent with.
type countingExecutor struct {
	launcher.Executor
	mu       sync.Mutex
	launches map[wire.TaskID]int
	labels   map[wire.TaskID]map[string]string
}

func (c *countingExecutor) Launch(ctx context.Context, spec launcher.Spec) (launcher.Task, error) {
	c.mu.Lock()
	c.launches[spec.Task.TaskID]++
	if c.labels == nil {
		c.labels = map[wire.TaskID]map[string]string{}
	}
	c.labels[spec.Task.TaskID] = maps.Clone(spec.Task.Labels)
	c.mu.Unlock()
	return c.Executor.Launch(ctx, spec)
}

// taskLabels returns the labels of each task launched.
func (c *countingExecutor) taskLabels() map[wire.TaskID]map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.labels)
}

func (c *countingExecutor) counts() map[wire.TaskID]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[wire.TaskID]int, len(c.launches))
	for k, v := range c.launches {
		out[k] = v
	}
	return out
}

// simCluster starts a cluster of simulated agents whose launches are
// counted.
func simCluster(t *testing.T, agents int, res string) (*sdktest.Cluster, []*countingExecutor) {
	execs := make([]*countingExecutor, agents)
	for i := range execs {
		execs[i] = &countingExecutor{Executor: launcher.NewSimExecutor(), launches: map[wire.TaskID]int{}}
	}
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(agents, res), sdktest.Simulated(),
		sdktest.WithAgentConfig(func(i int, ac *agent.Config) { ac.Executor = execs[i] }))
	return c, execs
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := writeBytes(p, []byte(strings.TrimLeft(content, "\n"))); err != nil {
		t.Fatal(err)
	}
	return p
}
