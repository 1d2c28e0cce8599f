package master_test

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/agent"
	"github.com/agora-cluster/agora/master"
	"github.com/agora-cluster/agora/master/natsembed"
	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// violations collects the permission errors NATS reports to a client.
type violations struct {
	mu   sync.Mutex
	errs []string
}

func (v *violations) handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.errs = append(v.errs, err.Error())
}

func (v *violations) has(substr string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, e := range v.errs {
		if strings.Contains(e, substr) {
			return true
		}
	}
	return false
}

// TestAuthenticatedConfinedActors: with identities configured, an
// unauthenticated client is refused; a framework cannot read another's
// offers nor call as it; an agent cannot pose as a master; a framework
// bound to a principal cannot subscribe with another, nor use a role its
// principal may not; state-changing HTTP calls need the operator token.
// Each refusal changes nothing.
func TestAuthenticatedConfinedActors(t *testing.T) {
	auth := &natsembed.Auth{Users: []natsembed.User{
		{Name: "master", Password: "m-secret", Kind: natsembed.KindMaster},
		{Name: "agent-a", Password: "a-secret", Kind: natsembed.KindAgent, ID: "agent-a"},
		{Name: "fw-a", Password: "fa-secret", Kind: natsembed.KindFramework, ID: "fw-a", Principal: "alice"},
		{Name: "fw-b", Password: "fb-secret", Kind: natsembed.KindFramework, ID: "fw-b", Principal: "bob"},
	}}
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:1;mem:256"), sdktest.Simulated(),
		sdktest.WithMasterConfig(func(mc *master.Config) { mc.Auth, mc.OperatorToken = auth, "op-token" }),
		sdktest.WithAgentConfig(func(i int, ac *agent.Config) {
			ac.ID = "agent-a"
			ac.NATSURLs = sdktest.WithURLUser(ac.NATSURLs, "agent-a", "a-secret")
		}))
	urls := c.NATSURLs()
	leader := c.Leader()
	base := "http://" + leader.HTTPAddr()

	// No credentials, or wrong ones: refused.
	if nc, err := nats.Connect(urls[0]); err == nil {
		nc.Close()
		t.Fatal("unauthenticated client connected")
	}
	if nc, err := nats.Connect(sdktest.WithURLUser(urls, "fw-a", "wrong")[0]); err == nil {
		nc.Close()
		t.Fatal("client with a wrong password connected")
	}

	// Framework A, as itself, works.
	recA := sdktest.NewRecorder()
	dA := c.RunDriver(t, wire.FrameworkInfo{ID: "fw-a", Name: "a", Principal: "alice"}, recA,
		func(cfg *sdk.Config) { cfg.NATSURLs = sdktest.WithURLUser(urls, "fw-a", "fa-secret") })
	recA.WaitSubscribed(t, 5*time.Second, 1)
	recA.TakeOffer(t, 5*time.Second, nil)

	// B's identity tries to read A's offers and to call as A.
	var vb violations
	ncB, err := nats.Connect(strings.Join(sdktest.WithURLUser(urls, "fw-b", "fb-secret"), ","), nats.ErrorHandler(vb.handler))
	if err != nil {
		t.Fatal(err)
	}
	defer ncB.Close()
	sub, _ := ncB.SubscribeSync(wire.NewSubjects("").Framework("fw-a"))
	teardown := wire.MustEncode(wire.TypeTeardown, "fw-a", 0, struct{}{})
	_ = ncB.Publish(wire.NewSubjects("").Call("fw-a"), teardown)
	_ = ncB.Flush()
	sdktest.Eventually(t, 5*time.Second, func() bool {
		return vb.has("Permissions Violation for Subscription") && vb.has("Permissions Violation for Publish")
	}, "permission violations for B's subscribe and publish")
	if _, err := sub.NextMsg(300 * time.Millisecond); err == nil {
		t.Fatal("framework B received a message on A's subject")
	}
	if fw, ok := leader.Registry().Framework("fw-a"); !ok || fw.Info.Principal != "alice" {
		t.Fatal("framework A was changed by B's attempt")
	}
	if err := dA.Revive(sdktest.Ctx(t, 5*time.Second)); err != nil {
		t.Fatalf("framework A no longer works: %v", err)
	}

	// The agent's identity cannot pose as a master.
	var va violations
	ncA, err := nats.Connect(strings.Join(sdktest.WithURLUser(urls, "agent-a", "a-secret"), ","), nats.ErrorHandler(va.handler))
	if err != nil {
		t.Fatal(err)
	}
	defer ncA.Close()
	_ = ncA.Publish(wire.NewSubjects("").Leader(), wire.MustEncode(wire.TypeLeader, "fake", 99, wire.LeaderInfo{Name: "fake", Term: 99}))
	_ = ncA.Publish(wire.NewSubjects("").Framework("fw-a"), wire.MustEncode(wire.TypeOffers, "fake", 99, wire.Offers{}))
	_ = ncA.Flush()
	sdktest.Eventually(t, 5*time.Second, func() bool { return va.has("Permissions Violation for Publish") }, "agent publishing as a master refused")

	// A framework bound to principal bob cannot subscribe as mallory.
	recB := sdktest.NewRecorder()
	c.RunDriver(t, wire.FrameworkInfo{ID: "fw-b", Name: "b", Principal: "mallory"}, recB,
		func(cfg *sdk.Config) { cfg.NATSURLs = sdktest.WithURLUser(urls, "fw-b", "fb-secret") })
	sdktest.Eventually(t, 5*time.Second, func() bool {
		for _, err := range recB.Errors() {
			var we *wire.Error
			if errors.As(err, &we) || strings.Contains(err.Error(), "principal") {
				return strings.Contains(err.Error(), "principal")
			}
		}
		return false
	}, "wrong principal refused: %v", recB.Errors())
	if _, ok := leader.Registry().Framework("fw-b"); ok {
		t.Fatal("a framework with the wrong principal was registered")
	}

	// HTTP: state changes need the token.
	req, _ := http.NewRequest("PUT", base+"/api/v1/roles/prod/acl", strings.NewReader(`{"principals":["alice"]}`))
	if code := do(t, req); code != http.StatusUnauthorized {
		t.Fatalf("without the token: %d", code)
	}
	if len(leader.Registry().RoleACL("prod")) != 0 {
		t.Fatal("a refused call changed the role ACL")
	}
	req, _ = http.NewRequest("PUT", base+"/api/v1/roles/prod/acl", strings.NewReader(`{"principals":["alice"]}`))
	req.Header.Set("Authorization", "Bearer op-token")
	if code := do(t, req); code != 200 {
		t.Fatalf("with the token: %d", code)
	}

	// Role ACL: bob may not use role prod.
	recB2 := sdktest.NewRecorder()
	c.RunDriver(t, wire.FrameworkInfo{ID: "fw-b", Name: "b", Principal: "bob", Roles: []string{"prod"}}, recB2,
		func(cfg *sdk.Config) { cfg.NATSURLs = sdktest.WithURLUser(urls, "fw-b", "fb-secret") })
	sdktest.Eventually(t, 5*time.Second, func() bool {
		for _, err := range recB2.Errors() {
			if strings.Contains(err.Error(), "may not use role") {
				return true
			}
		}
		return false
	}, "role ACL refused bob: %v", recB2.Errors())
	if _, ok := leader.Registry().Framework("fw-b"); ok {
		t.Fatal("a framework refused by the role ACL was registered")
	}
}

func do(t *testing.T, req *http.Request) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
