package service_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agora-cluster/agora/framework/service"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Environment of the test binary run as a framework process (see
// serveSubprocess).
const (
	envServeNATS = "AGORA_SERVICE_TEST_SERVE_NATS"
	envServeDir  = "AGORA_SERVICE_TEST_SERVE_DIR"
)

// runServeHelper runs the framework when the test binary was started by
// serveSubprocess, and reports whether it was: it prints the API's
// address and serves until it is killed.
func runServeHelper() bool {
	urls, dir := os.Getenv(envServeNATS), os.Getenv(envServeDir)
	if urls == "" || dir == "" {
		return false
	}
	s, err := service.Start(context.Background(), testConfig(strings.Split(urls, ","), dir,
		slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))))
	if err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(2)
	}
	fmt.Printf("ADDR %s\n", s.Addr())
	select {} // until killed
}

// serveSubprocess runs the framework in a child process (this test
// binary) on the cluster with its state in dir, and returns the process
// and the API's address. The child's log goes to dir/../serve.log.
func serveSubprocess(t *testing.T, c *sdktest.Cluster, dir string) (*os.Process, string) {
	t.Helper()
	logPath := filepath.Join(filepath.Dir(dir), "serve.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envServeNATS+"="+strings.Join(c.NATSURLs(), ","), envServeDir+"="+dir)
	cmd.Stderr = logf
	// The child dies with the test process, should the test stop first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				t.Logf("framework subprocess log:\n%s", b)
			}
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
				addr <- a
			}
		}
	}()
	select {
	case a := <-addr:
		return cmd.Process, a
	case <-exited:
		t.Fatalf("the framework subprocess exited before it listened (log in %s)", logPath)
	case <-time.After(30 * time.Second):
		t.Fatal("the framework subprocess did not start listening in 30s")
	}
	return nil, ""
}

// TestCrashRestartAdoptsInstances runs the framework as a process, kills
// it with SIGKILL once its app runs (no Stop: no unsubscription, nothing
// flushed or closed), and starts a new framework on the same data dir: it
// resumes as the same framework, adopts the running instances and
// launches no duplicates.
func TestCrashRestartAdoptsInstances(t *testing.T) {
	c := cluster(t, 3, nil)
	dir := filepath.Join(t.TempDir(), "data")
	proc, addr := serveSubprocess(t, c, dir)
	cl := service.NewClient(addr)
	sdktest.Eventually(t, 10*time.Second, func() bool {
		body, err := httpGet("http://" + addr + "/healthz")
		var h struct{ Subscribed bool }
		return err == nil && json.Unmarshal([]byte(body), &h) == nil && h.Subscribed
	}, "the framework subprocess to subscribe")
	deploy(t, cl, sleeper, 30*time.Second)
	before := taskIDs(appStatus(t, cl, "sleeper"))
	if len(before) != 2 {
		t.Fatalf("instances before the crash: %v", before)
	}
	idFile, err := os.ReadFile(filepath.Join(dir, "framework-id"))
	if err != nil {
		t.Fatal(err)
	}
	fw := wire.FrameworkID(strings.TrimSpace(string(idFile)))

	if err := proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	sdktest.Eventually(t, 10*time.Second, func() bool {
		_, err := cl.Apps(context.Background())
		return err != nil
	}, "the killed framework's API to go away")
	if got := masterTasks(c, fw); len(got) != 2 {
		t.Fatalf("master has %d live tasks of the crashed framework, want 2", len(got))
	}

	s2 := serve(t, c, dir)
	if s2.FrameworkID() != fw {
		t.Fatalf("restarted as %s, want %s", s2.FrameworkID(), fw)
	}
	cl = service.NewClient(s2.Addr())
	sdktest.Eventually(t, 10*time.Second, func() bool {
		st, err := cl.App(context.Background(), "sleeper")
		if err != nil || len(st.Tasks) != 2 || st.Running != 2 {
			return false
		}
		for _, tk := range st.Tasks {
			if !before[tk.ID] || tk.State != wire.TaskRunning {
				return false
			}
		}
		return true
	}, "the two instances to be adopted as running")
	// Scale up by one: with adoption, the set is the two old instances
	// plus exactly one new one, at the framework and at the master.
	scaleKeepsAdopted(t, c, cl, fw, before, 30*time.Second)
}
