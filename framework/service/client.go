package service

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/agora-cluster/agora/framework/service/controller"
	"github.com/agora-cluster/agora/framework/service/events"
)

// Client calls a service framework's HTTP API. Errors the API answers
// with are *APIError.
type Client struct {
	// Base is the API's base URL, e.g. "http://127.0.0.1:8090".
	Base string
	HTTP *http.Client
}

// NewClient returns a client for addr ("host:port" or a URL).
func NewClient(addr string) *Client {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	return &Client{Base: strings.TrimRight(addr, "/"), HTTP: http.DefaultClient}
}

func (c *Client) do(ctx context.Context, method, path string, body io.Reader, ctype string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, body)
	if err != nil {
		return err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("service API %s: %w", c.Base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		e := &APIError{Status: resp.StatusCode}
		if json.Unmarshal(data, e) != nil || e.Message == "" {
			e.Code, e.Message = CodeInternal, fmt.Sprintf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("service API %s %s: decode: %w", method, path, err)
		}
	}
	return nil
}

func (c *Client) postJSON(ctx context.Context, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	return c.do(ctx, http.MethodPost, path, body, "application/json", out)
}

func appPath(id string, rest string) string { return "/v1/apps/" + url.PathEscape(id) + rest }

// Deploy deploys a spec (YAML or JSON).
func (c *Client) Deploy(ctx context.Context, specDoc []byte) (controller.DeployResult, error) {
	var res controller.DeployResult
	err := c.do(ctx, http.MethodPost, "/v1/apps", bytes.NewReader(specDoc), "application/yaml", &res)
	return res, err
}

// Apps returns every app's status.
func (c *Client) Apps(ctx context.Context) ([]controller.AppStatus, error) {
	var out []controller.AppStatus
	err := c.do(ctx, http.MethodGet, "/v1/apps", nil, "", &out)
	return out, err
}

// App returns one app's status.
func (c *Client) App(ctx context.Context, id string) (controller.AppStatus, error) {
	var out controller.AppStatus
	err := c.do(ctx, http.MethodGet, appPath(id, ""), nil, "", &out)
	return out, err
}

// Scale sets an app's instances.
func (c *Client) Scale(ctx context.Context, id string, n int) (controller.DeployResult, error) {
	var res controller.DeployResult
	err := c.postJSON(ctx, appPath(id, "/scale"), ScaleRequest{Instances: &n}, &res)
	return res, err
}

// Restart restarts every instance of an app, rolling.
func (c *Client) Restart(ctx context.Context, id string) (controller.DeployResult, error) {
	var res controller.DeployResult
	err := c.postJSON(ctx, appPath(id, "/restart"), nil, &res)
	return res, err
}

// Rollback rolls an app back to version to (0: the previous version).
func (c *Client) Rollback(ctx context.Context, id string, to int) (controller.DeployResult, error) {
	var res controller.DeployResult
	err := c.postJSON(ctx, appPath(id, "/rollback"), RollbackRequest{To: to}, &res)
	return res, err
}

// Remove kills an app's instances and forgets it.
func (c *Client) Remove(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, appPath(id, ""), nil, "", nil)
}

// Versions lists an app's versions.
func (c *Client) Versions(ctx context.Context, id string) ([]controller.Version, error) {
	var out []controller.Version
	err := c.do(ctx, http.MethodGet, appPath(id, "/versions"), nil, "", &out)
	return out, err
}

// Endpoints lists an app's healthy instances' addresses.
func (c *Client) Endpoints(ctx context.Context, id string) ([]controller.Endpoint, error) {
	var out []controller.Endpoint
	err := c.do(ctx, http.MethodGet, appPath(id, "/endpoints"), nil, "", &out)
	return out, err
}

// Deployment returns one deployment.
func (c *Client) Deployment(ctx context.Context, id string) (controller.Deployment, error) {
	var out controller.Deployment
	err := c.do(ctx, http.MethodGet, "/v1/deployments/"+url.PathEscape(id), nil, "", &out)
	return out, err
}

// Events streams events (of app, if not empty) after since — 0 means
// every event the server still holds — to fn until ctx ends, the server
// closes the stream, or fn returns an error (which Events returns).
func (c *Client) Events(ctx context.Context, since uint64, app string, fn func(events.Event) error) error {
	q := url.Values{"since": {strconv.FormatUint(since, 10)}}
	if app != "" {
		q.Set("app", app)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+"/v1/events?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("service API %s: %w", c.Base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &APIError{Status: resp.StatusCode, Code: CodeInternal, Message: "events: " + resp.Status}
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var e events.Event
		if err := json.Unmarshal([]byte(data), &e); err != nil {
			return fmt.Errorf("events: decode: %w", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return sc.Err()
}
