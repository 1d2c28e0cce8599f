// Package health runs the service framework's health checks.
//
// The agent does not run health checks yet, so the framework process runs
// them itself: HTTP and TCP checks connect to the instance's agent host
// and port from the framework's machine, and COMMAND checks run the
// command on the framework's machine, with the instance's environment
// (HOST, PORT, PORT0.., PORT_<NAME>, AGORA_TASK_ID). A COMMAND check that
// inspects local state of the instance (files in its sandbox, a local
// socket) therefore only works when the framework runs on the agent's
// machine; checks run by the agent are pending.
package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/agora-cluster/agora/framework/service/spec"
)

// Target is where an instance runs.
type Target struct {
	// Host is the address the framework reaches the agent at.
	Host string
	// Ports are the instance's ports in the app spec's order.
	Ports []uint64
	// Env is the instance's environment, for COMMAND checks.
	Env map[string]string
}

// ErrUnhealthy is wrapped by every failed probe.
var ErrUnhealthy = errors.New("health check failed")

var client = &http.Client{
	Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// Probe runs one check once, bounded by its timeout, and returns nil if it
// passed.
func Probe(ctx context.Context, c spec.HealthCheck, t Target) error {
	timeout := c.Timeout.D()
	if timeout <= 0 {
		timeout = spec.DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch c.Protocol {
	case spec.HTTP, spec.TCP:
		if c.PortIndex < 0 || c.PortIndex >= len(t.Ports) {
			return fmt.Errorf("%w: instance has no port %d", ErrUnhealthy, c.PortIndex)
		}
		addr := net.JoinHostPort(t.Host, strconv.FormatUint(t.Ports[c.PortIndex], 10))
		if c.Protocol == spec.TCP {
			return probeTCP(ctx, addr)
		}
		return probeHTTP(ctx, "http://"+addr+c.Path)
	case spec.Command:
		return probeCommand(ctx, c.Command, t.Env)
	}
	return fmt.Errorf("%w: unknown protocol %q", ErrUnhealthy, c.Protocol)
}

func probeTCP(ctx context.Context, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnhealthy, err)
	}
	return conn.Close()
}

func probeHTTP(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnhealthy, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnhealthy, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("%w: GET %s: %s", ErrUnhealthy, url, resp.Status)
	}
	return nil
}

func probeCommand(ctx context.Context, command string, env map[string]string) error {
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// Kill the whole group: the shell's children too.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w: command timed out", ErrUnhealthy)
		}
		msg := string(out)
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return fmt.Errorf("%w: command: %v: %s", ErrUnhealthy, err, msg)
	}
	return nil
}
