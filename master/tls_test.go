package master_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/agent"
	"github.com/agora-cluster/agora/master"
	"github.com/agora-cluster/agora/master/internal/testcert"
	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// TestTLS: with certificate files, the HTTP API and NATS speak TLS (the
// routes between the three masters' NATS servers too); agents and
// frameworks that trust the CA work, and a client that does not is
// refused. The masters reach their own NATS servers in-process.
func TestTLS(t *testing.T) {
	ca, cert, key := testcert.Write(t)
	c := sdktest.Start(t, sdktest.Masters(3), sdktest.Agents(1, "cpus:1;mem:256"), sdktest.Simulated(),
		sdktest.WithMasterConfig(func(mc *master.Config) { mc.TLSCert, mc.TLSKey, mc.TLSCA = cert, key, ca }),
		sdktest.WithAgentConfig(func(i int, ac *agent.Config) { ac.TLSCA = ca }))

	if nc, err := nats.Connect(c.NATSURLs()[0]); err == nil {
		nc.Close()
		t.Fatal("a client that does not trust the CA connected")
	}
	// Each master talks to its own server in-process, without TLS.
	for _, m := range c.Masters() {
		if got := m.NATSAddr(); got != "pipe" {
			t.Errorf("master connected to its embedded NATS server at %q, want in-process", got)
		}
	}
	rec := sdktest.NewRecorder()
	d := c.RunDriver(t, wire.FrameworkInfo{Name: "tls"}, rec, func(cfg *sdk.Config) { cfg.TLSCA = ca })
	rec.WaitSubscribed(t, 5*time.Second, 1)
	o := rec.TakeOffer(t, 5*time.Second, nil)
	if _, err := d.Launch(sdktest.Ctx(t, 5*time.Second), o, wire.TaskInfo{TaskID: "t", Resources: wire.Resources{CPUs: 0.1, MemMB: 8}, Sim: &wire.SimBehavior{}}); err != nil {
		t.Fatal(err)
	}
	rec.WaitState(t, 5*time.Second, "t", wire.TaskFinished)

	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(ca)
	pool.AppendCertsFromPEM(pem)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + c.Leader().HTTPAddr() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("https /health: %d", resp.StatusCode)
	}
	if resp, err := http.Get("http://" + c.Leader().HTTPAddr() + "/health"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP answered on the TLS port")
		}
	}
}
