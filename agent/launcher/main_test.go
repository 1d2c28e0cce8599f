package launcher

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// testParent is the cgroup parent of this test binary, removed at the end.
var testParent = fmt.Sprintf("agora-test-launcher-%d", os.Getpid())

func TestMain(m *testing.M) {
	code := m.Run()
	removeTestCgroupParent()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// waitDone waits for task to end, failing the test after timeout.
func waitDone(t *testing.T, task Task, timeout time.Duration) Exit {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-task.Done():
		return task.Exit()
	case <-timer.C:
		t.Fatalf("task did not end within %s", timeout)
		return Exit{}
	}
}

// eventually polls cond every 10ms until it holds, failing after timeout
// with the last message cond returned.
func eventually(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, msg := cond()
		if ok {
			return
		}
		select {
		case <-deadline.C:
			t.Fatalf("condition not met within %s: %s", timeout, msg)
		case <-tick.C:
		}
	}
}
