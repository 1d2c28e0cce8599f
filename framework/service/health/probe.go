// Package health runs the service framework's HTTP and TCP health checks.
//
// They are probed from the framework process, at the instance's agent host
// and port, as a client of the service would reach it (Marathon's HTTP and
// TCP checks work the same way). COMMAND checks are not run here: they
// inspect the instance's machine and sandbox, so the agent runs them (the
// controller puts them in the task's wire.HealthCheck and reads the
// health the agent reports on the task's updates). [Runner] skips them and
// [Probe] refuses them.
package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/agora-cluster/agora/framework/service/spec"
)

// Target is where an instance runs.
type Target struct {
	// Host is the address the framework reaches the agent at.
	Host string
	// Ports are the instance's ports in the app spec's order.
	Ports []uint64
}

// ErrUnhealthy is wrapped by every failed probe.
var ErrUnhealthy = errors.New("health check failed")

// ErrAgentCheck is returned by Probe for a COMMAND check: the agent runs
// those, in the instance's sandbox.
var ErrAgentCheck = errors.New("COMMAND checks are run by the agent")

// RunByAgent reports whether the agent, not the framework, runs c.
func RunByAgent(c spec.HealthCheck) bool { return c.Protocol == spec.Command }

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
		return ErrAgentCheck
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
