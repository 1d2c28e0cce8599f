package service

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agora-cluster/agora/framework/service/events"
)

// TestEventStreamResumes checks the SSE format, the app filter and
// resuming with Last-Event-ID.
func TestEventStreamResumes(t *testing.T) {
	s := &Server{hub: events.NewHub(16)}
	srv := httptest.NewServer(s.routes())
	defer srv.Close()
	for i, app := range []string{"a", "b", "a"} {
		s.hub.Publish(events.Event{Type: events.InstanceStatus, App: app, Message: string(rune('1' + i))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v1/events?app=a", nil)
	req.Header.Set("Last-Event-ID", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	next := func() []string {
		t.Helper()
		var lines []string
		for sc.Scan() {
			if sc.Text() == "" {
				if len(lines) > 0 && !strings.HasPrefix(lines[0], ":") {
					return lines
				}
				lines = nil
				continue
			}
			lines = append(lines, sc.Text())
		}
		t.Fatalf("stream ended: %v", sc.Err())
		return nil
	}
	// Event 2 is app b: filtered out. Event 3 is the first after id 1.
	if got := next(); got[0] != "id: 3" || got[1] != "event: instance_status" || !strings.Contains(got[2], `"message":"3"`) {
		t.Fatalf("first event %q", got)
	}
	s.hub.Publish(events.Event{Type: events.DeploymentStep, App: "b"})
	s.hub.Publish(events.Event{Type: events.DeploymentStep, App: "a", Message: "live"})
	if got := next(); got[0] != "id: 5" || !strings.Contains(got[2], `"live"`) {
		t.Fatalf("live event %q", got)
	}
	s.hub.Close()
	if sc.Scan() && sc.Text() != "" {
		t.Fatalf("stream went on after close: %q", sc.Text())
	}
}

func TestErrorsMapToStatus(t *testing.T) {
	s := &Server{hub: events.NewHub(0)}
	srv := httptest.NewServer(s.routes())
	defer srv.Close()
	_, err := NewClient(srv.URL).Deploy(context.Background(), []byte("id: x\ncmd: y\nbogus: 1\n"))
	var e *APIError
	if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Code != CodeInvalid || len(e.Fields) != 1 || e.Fields[0].Field != "bogus" {
		t.Fatalf("err = %#v", err)
	}
}
