package service_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/agora-cluster/agora/agent"
	"github.com/agora-cluster/agora/framework/service"
	"github.com/agora-cluster/agora/framework/service/controller"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
	"go.uber.org/goleak"
)

// testServerBin is the tiny HTTP server (internal/testserver), built once.
var testServerBin string

func TestMain(m *testing.M) {
	if runServeHelper() { // this binary is a framework process of a test
		return
	}
	dir, err := os.MkdirTemp("", "agora-service-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testServerBin = filepath.Join(dir, "testserver")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	cmd := exec.Command(gobin, "build", "-o", testServerBin, "github.com/agora-cluster/agora/framework/service/internal/testserver")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build testserver:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines leaked:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// freeRange returns the first port of n consecutive ports that can be
// bound now. The agents share one machine, so each gets its own range; the
// ranges are drawn below Linux's ephemeral ports (32768 and up), where
// outgoing connections and ":0" listeners would collide with them.
func freeRange(t *testing.T, n int) uint64 {
	t.Helper()
	for try := 0; try < 50; try++ {
		base := 12000 + rand.IntN(18000)
		ok := true
		for p := base; p < base+n && ok; p++ {
			l, err := net.Listen("tcp", ":"+strconv.Itoa(p))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return uint64(base)
		}
	}
	t.Fatal("no free port range")
	return 0
}

// cluster starts a master and n agents (hostnames agent1..agentN, each
// with its own 50-port range) that run real processes.
func cluster(t *testing.T, n int, attrs func(i int) map[string]string) *sdktest.Cluster {
	t.Helper()
	base := freeRange(t, 50*n)
	return sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(n, "cpus:4;mem:4096"),
		sdktest.WithAgentConfig(func(i int, ac *agent.Config) {
			lo := base + uint64(50*i)
			ac.Resources.Ports = wire.Ranges{{Begin: lo, End: lo + 49}}
			ac.KillGrace = 500 * time.Millisecond
			if attrs != nil {
				ac.Attributes = attrs(i)
			}
		}))
}

// testConfig is the framework's configuration in these tests (in this
// process, or in a child process: serveSubprocess).
func testConfig(urls []string, dir string, log *slog.Logger) service.Config {
	return service.Config{
		NATSURLs:     urls,
		DataDir:      dir,
		HTTPAddr:     "127.0.0.1:0",
		ProbeHost:    func(string) string { return "127.0.0.1" },
		TickInterval: 50 * time.Millisecond,
		StallAfter:   5 * time.Second,
		CallTimeout:  2 * time.Second,
		Logger:       log,
	}
}

// serve starts the framework on the cluster with its state in dir.
func serve(t *testing.T, c *sdktest.Cluster, dir string) *service.Server {
	t.Helper()
	s, err := service.Start(context.Background(), testConfig(c.NATSURLs(), dir, sdktest.TestLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	sdktest.Eventually(t, 10*time.Second, s.Subscribed, "framework subscribed")
	return s
}

// deploy deploys doc through the API and waits for its deployment.
func deploy(t *testing.T, cl *service.Client, doc string, timeout time.Duration) controller.Deployment {
	t.Helper()
	ctx := sdktest.Ctx(t, timeout)
	res, err := cl.Deploy(ctx, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	d, err := service.WaitDeployment(ctx, cl, res.Deployment, timeout, func(s controller.Step) { t.Logf("deploy %s: %s", res.App, s.Message) })
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func appStatus(t *testing.T, cl *service.Client, id string) controller.AppStatus {
	t.Helper()
	st, err := cl.App(sdktest.Ctx(t, 5*time.Second), id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// masterTasks returns the framework's live tasks as the leader sees them.
func masterTasks(c *sdktest.Cluster, fw wire.FrameworkID) map[wire.TaskID]wire.TaskState {
	out := map[wire.TaskID]wire.TaskState{}
	l := c.Leader()
	if l == nil {
		return out
	}
	for _, tk := range l.StateView().Tasks {
		if tk.FrameworkID == fw && !tk.State.Terminal() {
			out[tk.ID] = tk.State
		}
	}
	return out
}

func taskIDs(st controller.AppStatus) map[wire.TaskID]bool {
	out := map[wire.TaskID]bool{}
	for _, tk := range st.Tasks {
		out[tk.ID] = true
	}
	return out
}
