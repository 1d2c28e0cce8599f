// Package health runs a task's health check (COMMAND, HTTP or TCP) on
// the agent, with a delay, an interval, a timeout per check, a grace
// period and a consecutive-failure limit, as Mesos and Marathon do.
package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

// Defaults for unset fields.
const (
	DefaultInterval            = 10 * time.Second
	DefaultTimeout             = 5 * time.Second
	DefaultConsecutiveFailures = 3
)

// Target is what a check runs against.
type Target struct {
	// Host is where HTTP and TCP checks connect (default 127.0.0.1).
	Host string
	// Ports are the task's ports, PORT0 first.
	Ports []uint64
	// Dir and Env are the working directory and environment of COMMAND
	// checks.
	Dir string
	Env []string
}

// Event is what the checker reports.
type Event struct {
	// Healthy is the task's health after this check; it is reported when
	// it changes (and after the first check).
	Healthy bool
	// Unhealthy is set, with Healthy false, when the task failed enough
	// consecutive checks after its grace period: it should be killed.
	Unhealthy bool
	// Message describes the last check's outcome.
	Message string
}

// Run checks until ctx ends or the task is found unhealthy (then it
// reports an Event with Unhealthy set and returns). report is called from
// Run's goroutine.
func Run(ctx context.Context, hc wire.HealthCheck, t Target, report func(Event)) {
	interval := orDefault(hc.Interval.D(), DefaultInterval)
	timeout := orDefault(hc.Timeout.D(), DefaultTimeout)
	limit := hc.ConsecutiveFailures
	if limit <= 0 {
		limit = DefaultConsecutiveFailures
	}
	start := time.Now()
	if !sleep(ctx, hc.Delay.D()) {
		return
	}
	failures := 0
	first, healthy, everHealthy := true, false, false
	for {
		err := Check(ctx, hc, t, timeout)
		if ctx.Err() != nil {
			return
		}
		ok := err == nil
		msg := "healthy"
		if !ok {
			msg = err.Error()
		}
		inGrace := !everHealthy && time.Since(start) < hc.GracePeriod.D()
		switch {
		case ok:
			failures = 0
			everHealthy = true
		case !inGrace:
			failures++
		}
		if first || ok != healthy {
			report(Event{Healthy: ok, Message: msg})
			first, healthy = false, ok
		}
		if failures >= limit {
			report(Event{Healthy: false, Unhealthy: true, Message: fmt.Sprintf("failed %d consecutive health checks: %s", failures, msg)})
			return
		}
		if !sleep(ctx, interval) {
			return
		}
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Check runs one check; nil means healthy.
func Check(ctx context.Context, hc wire.HealthCheck, t Target, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch hc.Type {
	case wire.HealthCommand:
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", hc.Command)
		cmd.Dir, cmd.Env = t.Dir, t.Env
		if cmd.Env == nil {
			cmd.Env = os.Environ()
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		out, err := cmd.CombinedOutput()
		if ctx.Err() != nil {
			return fmt.Errorf("command check timed out after %s", timeout)
		}
		if err != nil {
			return fmt.Errorf("command check failed: %v: %.200s", err, out)
		}
		return nil
	case wire.HealthHTTP, wire.HealthTCP:
		port, err := pickPort(hc, t)
		if err != nil {
			return err
		}
		host := t.Host
		if host == "" {
			host = "127.0.0.1"
		}
		addr := net.JoinHostPort(host, strconv.FormatUint(port, 10))
		if hc.Type == wire.HealthTCP {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return fmt.Errorf("tcp check %s: %v", addr, err)
			}
			return c.Close()
		}
		path := hc.Path
		if path == "" {
			path = "/"
		}
		req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+path, nil)
		if err != nil {
			return err
		}
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("http check %s%s: %v", addr, path, err)
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 399 {
			return fmt.Errorf("http check %s%s: status %d", addr, path, resp.StatusCode)
		}
		return nil
	}
	return fmt.Errorf("unknown health check type %q", hc.Type)
}

var errNoPort = errors.New("health check: the task has no port at that index")

func pickPort(hc wire.HealthCheck, t Target) (uint64, error) {
	if hc.Port != 0 {
		return hc.Port, nil
	}
	if hc.PortIndex < 0 || hc.PortIndex >= len(t.Ports) {
		return 0, fmt.Errorf("%w (PORT%d of %d ports)", errNoPort, hc.PortIndex, len(t.Ports))
	}
	return t.Ports[hc.PortIndex], nil
}
