package sandbox

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Master reads sandboxes of any agent through the leading master's HTTP
// API (GET /api/v1/agents/{agent}/sandbox/{framework}/{task}/{file}),
// which fetches them from the agent.
type Master struct {
	// Leader returns the leader's HTTP address (host:port), "" if unknown.
	Leader func() string
	Client *http.Client
}

// Read implements Reader.
func (m *Master) Read(ctx context.Context, loc Location, s Stream, offset int64, limit int) ([]byte, int64, error) {
	addr := m.Leader()
	if addr == "" {
		return nil, 0, fmt.Errorf("%w: no leader known yet", ErrUnsupported)
	}
	u := fmt.Sprintf("http://%s/api/v1/agents/%s/sandbox/%s/%s/%s?offset=%d&length=%d", addr,
		url.PathEscape(string(loc.AgentID)), url.PathEscape(string(loc.FrameworkID)), url.PathEscape(string(loc.TaskID)),
		s, offset, limit)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	c := m.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1<<20))
	if err != nil {
		return nil, 0, err
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, 0, fmt.Errorf("%w: %s", ErrNotFound, data)
	case resp.StatusCode != http.StatusOK:
		return nil, 0, fmt.Errorf("master answered %d: %s", resp.StatusCode, data)
	}
	size, _ := strconv.ParseInt(resp.Header.Get("X-Agora-Size"), 10, 64)
	return data, size, nil
}
