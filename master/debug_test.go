package master_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/agora-cluster/agora/master"
	"github.com/agora-cluster/agora/sdk/sdktest"
)

// TestDebugProfiles: /debug/pprof/ is served only with EnableDebug, and
// only with the operator token.
func TestDebugProfiles(t *testing.T) {
	off := sdktest.Start(t, sdktest.Agents(0, ""))
	if code, _ := send(t, "GET", "http://"+off.Leader().HTTPAddr()+"/debug/pprof/goroutine?debug=1", ""); code == http.StatusOK {
		t.Fatal("profiles served without --enable-debug")
	}

	on := sdktest.Start(t, sdktest.Agents(0, ""),
		sdktest.WithMasterConfig(func(mc *master.Config) { mc.EnableDebug, mc.OperatorToken = true, "op-token" }))
	url := "http://" + on.Leader().HTTPAddr() + "/debug/pprof/goroutine?debug=1"
	if code, _ := send(t, "GET", url, ""); code != http.StatusUnauthorized {
		t.Fatalf("profiles without the operator token: HTTP %d, want 401", code)
	}
	code, body := sendAs(t, "op-token", "GET", url, "")
	if code != http.StatusOK || !strings.Contains(body, "goroutine profile:") {
		t.Fatalf("goroutine profile: HTTP %d, %.200q", code, body)
	}
}
