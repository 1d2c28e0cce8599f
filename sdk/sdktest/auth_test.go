package sdktest_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/master/natsembed"
	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// TestWithAuth: a cluster started with identities refuses anonymous
// clients, its agents log in as the agent identities in order (and take
// their IDs), a framework logs in with WithURLUser, and the operator
// token guards state changes.
func TestWithAuth(t *testing.T) {
	auth := &natsembed.Auth{Users: []natsembed.User{
		{Name: "master", Password: "m:@/secret", Kind: natsembed.KindMaster},
		{Name: "a1", Password: "p1", Kind: natsembed.KindAgent, ID: "agent-one"},
		{Name: "a2", Password: "p@2", Kind: natsembed.KindAgent, ID: "agent-two"},
		{Name: "fw", Password: "f/w:pass", Kind: natsembed.KindFramework, ID: "fw-1"},
	}}
	c := sdktest.Start(t, sdktest.Masters(3), sdktest.Agents(2, "cpus:1;mem:256"), sdktest.Simulated(),
		sdktest.WithAuth(auth), sdktest.WithOperatorToken("tok"))
	if nc, err := nats.Connect(strings.Join(c.NATSURLs(), ",")); err == nil {
		nc.Close()
		t.Fatal("an anonymous client connected")
	}
	for i, want := range []wire.AgentID{"agent-one", "agent-two"} {
		if got := c.Agents()[i].ID(); got != want {
			t.Errorf("agent %d is %s, want %s", i, got, want)
		}
	}
	rec := sdktest.NewRecorder()
	c.RunDriver(t, wire.FrameworkInfo{ID: "fw-1", Name: "x"}, rec,
		func(cfg *sdk.Config) { cfg.NATSURLs = sdktest.WithURLUser(c.NATSURLs(), "fw", "f/w:pass") })
	rec.WaitSubscribed(t, 10*time.Second, 1)
	rec.TakeOffer(t, 10*time.Second, nil)

	req, _ := http.NewRequest("PUT", "http://"+c.Leader().HTTPAddr()+"/api/v1/roles/r", strings.NewReader(`{"weight":2}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a state change without the token: %d", resp.StatusCode)
	}
}

// TestWithAuthTooFewAgentIdentities: an agent without an identity is a
// clear error, not an agent that cannot log in.
func TestWithAuthTooFewAgentIdentities(t *testing.T) {
	auth := &natsembed.Auth{Users: []natsembed.User{{Name: "master", Password: "m", Kind: natsembed.KindMaster}}}
	r, _ := wire.ParseResources("cpus:1;mem:256")
	c, err := sdktest.New(sdktest.Config{Dir: t.TempDir(), Auth: auth, Simulated: true, AgentResources: []wire.Resources{r}})
	if err == nil {
		c.Close()
		t.Fatal("started an agent without an identity")
	}
	if !strings.Contains(err.Error(), "identity") {
		t.Fatalf("unclear error: %v", err)
	}
}
