package master_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/agora-cluster/agora/master"
	"github.com/agora-cluster/agora/sdk/sdktest"
)

func getWithToken(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDebugProfiles: /debug/pprof/ is served only with EnableDebug, and
// only with the operator token.
func TestDebugProfiles(t *testing.T) {
	off := sdktest.Start(t, sdktest.Agents(0, ""))
	if code, _ := getWithToken(t, "http://"+off.Leader().HTTPAddr()+"/debug/pprof/goroutine?debug=1", ""); code == http.StatusOK {
		t.Fatal("profiles served without --enable-debug")
	}

	on := sdktest.Start(t, sdktest.Agents(0, ""),
		sdktest.WithMasterConfig(func(mc *master.Config) { mc.EnableDebug, mc.OperatorToken = true, "op-token" }))
	url := "http://" + on.Leader().HTTPAddr() + "/debug/pprof/goroutine?debug=1"
	if code, _ := getWithToken(t, url, ""); code != http.StatusUnauthorized {
		t.Fatalf("profiles without the operator token: HTTP %d, want 401", code)
	}
	code, body := getWithToken(t, url, "op-token")
	if code != http.StatusOK || !strings.Contains(body, "goroutine profile:") {
		t.Fatalf("goroutine profile: HTTP %d, %.200q", code, body)
	}
}
