package batch

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/agora-cluster/agora/framework/batch/api"
	"github.com/agora-cluster/agora/sdk/sdktest"
)

// TestServeCommand runs `agora batch serve` and talks to it; a second
// serve on the same data dir resumes the same framework ID.
func TestServeCommand(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:1;mem:1024"), sdktest.Simulated())
	dir := t.TempDir()
	var ids []string
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		ctx, cancel := context.WithCancel(context.Background())
		var out bytes.Buffer
		app := &cli.App{Name: "agora", Commands: []*cli.Command{Command()}, Writer: &out, ErrWriter: &out}
		done := make(chan error, 1)
		go func() {
			done <- app.RunContext(ctx, []string{"agora", "batch", "serve", "--nats", strings.Join(c.NATSURLs(), ","),
				"--data-dir", dir, "--http", addr, "--log-level", "error", "--no-sync",
				"--sandbox-dir", filepath.Join(c.Dir(), "agent*")})
		}()
		cl := api.NewClient(addr)
		var info api.Info
		sdktest.Eventually(t, 10*time.Second, func() bool {
			info, err = cl.Info(context.Background())
			return err == nil
		}, "serve to answer")
		ids = append(ids, string(info.FrameworkID))
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("serve: %v\n%s", err, out.String())
			}
		case <-time.After(10 * time.Second):
			t.Fatal("serve did not stop")
		}
	}
	if ids[0] == "" || ids[0] != ids[1] {
		t.Fatalf("framework IDs %v: a restarted serve must resume the same framework", ids)
	}
}
