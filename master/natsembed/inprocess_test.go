package natsembed

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/master/internal/testcert"
	"github.com/agora-cluster/agora/sdk/wire"
)

// TestInProcessClient: a client inside the process connects with no
// socket and no TLS, even when the server makes TCP clients use TLS; it is
// held to its identity's permissions like any client, and exchanges
// messages with TCP clients.
func TestInProcessClient(t *testing.T) {
	ca, cert, key := testcert.Write(t)
	s := start(t, Config{TLSCert: cert, TLSKey: key, Auth: &Auth{Users: []User{
		{Name: "master", Password: "m", Kind: KindMaster},
		{Name: "hello", Password: "h", Kind: KindFramework, IDs: []string{"hello"}},
	}}})
	var (
		mu   sync.Mutex
		errs []string
	)
	in, err := s.ConnectInProcess(nats.UserInfo("hello", "h"), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err.Error())
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if got := in.ConnectedAddr(); got != "pipe" {
		t.Fatalf("in-process client connected to %q, want an in-memory pipe", got)
	}
	subj := wire.NewSubjects("")
	_, _ = in.SubscribeSync(subj.Framework("other"))
	waitFor(t, 5*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(strings.Join(errs, "\n"), "Permissions Violation for Subscription")
	}, "another framework's subject to be refused")

	sub, err := in.SubscribeSync(subj.Framework("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Flush(); err != nil {
		t.Fatal(err)
	}
	tcp, err := nats.Connect(s.ClientURL(), nats.RootCAs(ca), nats.UserInfo("master", "m"))
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	if err := tcp.Publish(subj.Framework("hello"), []byte("hi")); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Data) != "hi" {
		t.Fatalf("got %q, want hi", m.Data)
	}
}
