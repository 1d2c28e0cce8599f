// Package operator is `agora cluster`: the operator's command line. It
// talks to any master's HTTP API (standbys redirect to the leader) and
// prints human tables or, with --output json, the API's JSON.
package operator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Client calls the masters' HTTP API, trying each address in turn until
// one answers.
type Client struct {
	Masters []string
	Token   string
	HTTP    *http.Client
}

// NewClient returns a client for the given master addresses
// ("host:port" or URLs).
func NewClient(masters []string) *Client {
	return &Client{Masters: masters, HTTP: &http.Client{Timeout: 10 * time.Second}}
}

// APIError is a non-2xx answer from a master.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string { return fmt.Sprintf("master answered %d: %s", e.Status, e.Message) }

func baseURL(m string) string {
	m = strings.TrimRight(m, "/")
	if !strings.Contains(m, "://") {
		m = "http://" + m
	}
	return m
}

// Do sends a request to the first master that answers and decodes a JSON
// answer into out (if not nil). Redirects from standbys are followed
// (307 keeps the method and body).
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	if len(c.Masters) == 0 {
		return errors.New("no master addresses: set --masters or AGORA_MASTERS")
	}
	var payload []byte
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		payload = b
	}
	var lastErr error
	for _, m := range c.Masters {
		req, err := http.NewRequestWithContext(ctx, method, baseURL(m)+path, bytes.NewReader(payload))
		if err != nil {
			return err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if c.Token != "" {
			req.Header.Set("Authorization", "Bearer "+c.Token)
		}
		resp, err := c.HTTP.Do(req)
		if err != nil {
			lastErr = err
			continue
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
		resp.Body.Close()
		if err != nil {
			lastErr = err
			continue
		}
		if resp.StatusCode == http.StatusServiceUnavailable {
			lastErr = &APIError{Status: resp.StatusCode, Message: errorMessage(data)}
			continue
		}
		if resp.StatusCode/100 != 2 {
			return &APIError{Status: resp.StatusCode, Message: errorMessage(data)}
		}
		if out == nil {
			return nil
		}
		if raw, ok := out.(*json.RawMessage); ok {
			*raw = append((*raw)[:0], data...)
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decoding %s answer: %w", path, err)
		}
		return nil
	}
	return fmt.Errorf("no master answered: %w", lastErr)
}

func errorMessage(data []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		return e.Error
	}
	return strings.TrimSpace(string(data))
}
