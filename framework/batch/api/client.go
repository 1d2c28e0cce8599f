package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/agora-cluster/agora/framework/batch/record"
	"github.com/agora-cluster/agora/framework/batch/spec"
)

// Client calls the batch API.
type Client struct {
	// Base is the API's address, e.g. "http://127.0.0.1:8090".
	Base string
	HTTP *http.Client
}

// NewClient returns a client for base ("host:port" or a URL).
func NewClient(base string) *Client {
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	return &Client{Base: strings.TrimRight(base, "/"), HTTP: &http.Client{Timeout: MaxWait + 10*time.Second}}
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, body io.Reader, ctype string, out any) (*http.Response, error) {
	u := c.Base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("batch API %s: %w", c.Base, err)
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		e := &Error{Status: resp.StatusCode}
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(data, e) != nil || e.Code == "" {
			e.Code, e.Message = CodeInternal, fmt.Sprintf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
		}
		return nil, e
	}
	if out == nil {
		return resp, nil
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return nil, fmt.Errorf("batch API %s %s: decode: %w", method, path, err)
	}
	return resp, nil
}

// Submit posts a job file. With noRun the jobs are only stored.
func (c *Client) Submit(ctx context.Context, file []byte, f spec.Format, noRun bool) (record.SubmitResult, error) {
	var res record.SubmitResult
	ctype := ""
	switch f {
	case spec.JSON:
		ctype = "application/json"
	case spec.YAML:
		ctype = "application/yaml"
	}
	q := url.Values{}
	if noRun {
		q.Set("run", "false")
	}
	_, err := c.do(ctx, http.MethodPost, "/api/v1/jobs", q, bytes.NewReader(file), ctype, &res)
	return res, err
}

// Jobs returns every job's status.
func (c *Client) Jobs(ctx context.Context) ([]record.JobStatus, error) {
	var out []record.JobStatus
	_, err := c.do(ctx, http.MethodGet, "/api/v1/jobs", nil, nil, "", &out)
	return out, err
}

// Job returns one job's status.
func (c *Client) Job(ctx context.Context, name string) (record.JobStatus, error) {
	var out record.JobStatus
	_, err := c.do(ctx, http.MethodGet, "/api/v1/jobs/"+url.PathEscape(name), nil, nil, "", &out)
	return out, err
}

// Trigger starts a run of a job now.
func (c *Client) Trigger(ctx context.Context, name string) (record.RunRef, error) {
	var out record.RunRef
	_, err := c.do(ctx, http.MethodPost, "/api/v1/jobs/"+url.PathEscape(name)+"/runs", nil, nil, "", &out)
	return out, err
}

// Kill kills a job's active runs and returns their IDs.
func (c *Client) Kill(ctx context.Context, name string) ([]uint64, error) {
	var out struct {
		Killed []uint64 `json:"killed"`
	}
	_, err := c.do(ctx, http.MethodPost, "/api/v1/jobs/"+url.PathEscape(name)+"/kill", nil, nil, "", &out)
	return out.Killed, err
}

// KillRun kills one run.
func (c *Client) KillRun(ctx context.Context, id uint64) error {
	_, err := c.do(ctx, http.MethodPost, "/api/v1/runs/"+strconv.FormatUint(id, 10)+"/kill", nil, nil, "", &struct{}{})
	return err
}

// Remove deletes a job; force kills its active runs first.
func (c *Client) Remove(ctx context.Context, name string, force bool) error {
	q := url.Values{}
	if force {
		q.Set("force", "true")
	}
	resp, err := c.do(ctx, http.MethodDelete, "/api/v1/jobs/"+url.PathEscape(name), q, nil, "", nil)
	if err == nil {
		resp.Body.Close()
	}
	return err
}

// History returns up to limit runs of a job with IDs below before (0:
// the newest), newest first.
func (c *Client) History(ctx context.Context, name string, limit int, before uint64) ([]record.RunStatus, error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if before > 0 {
		q.Set("before", strconv.FormatUint(before, 10))
	}
	var out []record.RunStatus
	_, err := c.do(ctx, http.MethodGet, "/api/v1/jobs/"+url.PathEscape(name)+"/runs", q, nil, "", &out)
	return out, err
}

// Run returns a run; wait > 0 first waits up to that long for any change.
func (c *Client) Run(ctx context.Context, id uint64, attempts bool, wait time.Duration) (record.RunStatus, error) {
	q := url.Values{}
	if attempts {
		q.Set("attempts", "true")
	}
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	var out record.RunStatus
	_, err := c.do(ctx, http.MethodGet, "/api/v1/runs/"+strconv.FormatUint(id, 10), q, nil, "", &out)
	return out, err
}

// Info returns the framework's name and ID.
func (c *Client) Info(ctx context.Context) (Info, error) {
	var out Info
	_, err := c.do(ctx, http.MethodGet, "/api/v1/info", nil, nil, "", &out)
	return out, err
}

// LogsQuery selects task output.
type LogsQuery struct {
	Run     uint64 // 0: the job's newest run
	Task    int    // the instance
	Attempt int    // 0: the latest
	Stderr  bool
	Offset  int64 // negative: from the end
	Limit   int
}

// LogChunk is a piece of task output.
type LogChunk struct {
	Data       []byte
	TaskID     string
	Run        uint64
	Attempt    int
	NextOffset int64
	Size       int64
	// Done: the attempt is over, no more output will come.
	Done bool
}

// Logs fetches a chunk of a task's output.
func (c *Client) Logs(ctx context.Context, job string, lq LogsQuery) (LogChunk, error) {
	q := url.Values{"task": {strconv.Itoa(lq.Task)}, "offset": {strconv.FormatInt(lq.Offset, 10)}}
	if lq.Run > 0 {
		q.Set("run", strconv.FormatUint(lq.Run, 10))
	}
	if lq.Attempt > 0 {
		q.Set("attempt", strconv.Itoa(lq.Attempt))
	}
	if lq.Stderr {
		q.Set("stream", "stderr")
	}
	if lq.Limit > 0 {
		q.Set("limit", strconv.Itoa(lq.Limit))
	}
	resp, err := c.do(ctx, http.MethodGet, "/api/v1/jobs/"+url.PathEscape(job)+"/logs", q, nil, "", nil)
	if err != nil {
		return LogChunk{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxLogChunk+1))
	if err != nil {
		return LogChunk{}, err
	}
	h := resp.Header
	ch := LogChunk{Data: data, TaskID: h.Get(HeaderTaskID), Done: h.Get(HeaderDone) == "true"}
	ch.Run, _ = strconv.ParseUint(h.Get(HeaderRun), 10, 64)
	ch.Attempt, _ = strconv.Atoi(h.Get(HeaderAttempt))
	ch.NextOffset, _ = strconv.ParseInt(h.Get(HeaderNextOffset), 10, 64)
	ch.Size, _ = strconv.ParseInt(h.Get(HeaderSize), 10, 64)
	return ch, nil
}
