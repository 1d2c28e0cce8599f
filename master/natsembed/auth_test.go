package natsembed

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/sdk/wire"
)

// TestIdentityWithSeveralIDs: one login may act as each of its IDs and
// as nothing else.
func TestIdentityWithSeveralIDs(t *testing.T) {
	auth := &Auth{Users: []User{
		{Name: "master", Password: "m", Kind: KindMaster},
		{Name: "examples", Password: "e", Kind: KindFramework, IDs: []string{"hello", "pi"}, Principal: "dev"},
	}}
	s := start(t, Config{Auth: auth})
	onErr, violations := asyncErrors()
	nc, err := nats.Connect(s.ClientURL(), nats.UserInfo("examples", "e"), onErr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	subj := wire.NewSubjects("")
	for _, id := range []wire.FrameworkID{"hello", "pi"} {
		if _, err := nc.SubscribeSync(subj.Framework(id)); err != nil {
			t.Fatal(err)
		}
		_ = nc.Publish(subj.Call(id), []byte("{}"))
	}
	_ = nc.Flush()
	if v := violations(); v != "" {
		t.Fatalf("its own IDs were refused: %s", v)
	}
	_, _ = nc.SubscribeSync(subj.Framework("other"))
	_ = nc.Publish(subj.Call("other"), []byte("{}"))
	_ = nc.Flush()
	waitFor(t, 5*time.Second, func() bool {
		v := violations()
		return strings.Contains(v, "Permissions Violation for Subscription") && strings.Contains(v, "Permissions Violation for Publish")
	}, "another framework's subjects to be refused")

	for _, id := range []wire.FrameworkID{"hello", "pi"} {
		if p, ok := auth.Principal(id); !ok || p != "dev" {
			t.Errorf("principal of %s: %q %v", id, p, ok)
		}
	}
	if _, ok := auth.Principal("other"); ok {
		t.Error("an unknown framework has a principal")
	}
}

func TestAuthValidate(t *testing.T) {
	m := User{Name: "master", Password: "m", Kind: KindMaster}
	for name, u := range map[string]User{
		"no id":      {Name: "f", Password: "p", Kind: KindFramework},
		"bad id":     {Name: "f", Password: "p", Kind: KindFramework, ID: "a.b"},
		"bad in ids": {Name: "a", Password: "p", Kind: KindAgent, IDs: []string{"ok", "a*"}},
		"bad kind":   {Name: "x", Password: "p", Kind: "root", ID: "x"},
		"no pass":    {Name: "x", Kind: KindAgent, ID: "x"},
	} {
		if err := (&Auth{Users: []User{m, u}}).Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := (&Auth{Users: []User{{Name: "a", Password: "p", Kind: KindAgent, ID: "a"}}}).Validate(); err == nil {
		t.Error("no master identity: accepted")
	}
}

// TestAuthSaveLoad: a saved auth file loads back the same and only its
// owner can read it, even when it existed with a looser mode.
func TestAuthSaveLoad(t *testing.T) {
	a := &Auth{Users: []User{
		{Name: "master", Password: "m", Kind: KindMaster},
		{Name: "agent1", Password: "a", Kind: KindAgent, ID: "agent1"},
		{Name: "examples", Password: "e", Kind: KindFramework, IDs: []string{"hello", "pi"}},
	}}
	path := filepath.Join(t.TempDir(), "auth.json")
	if err := os.WriteFile(path, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := a.Save(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	b, err := LoadAuth(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("loaded %+v, saved %+v", b, a)
	}
}

// asyncErrors returns a client option that records the connection's
// asynchronous errors (permission violations among them), and a function
// that returns them so far, one per line.
func asyncErrors() (nats.Option, func() string) {
	var (
		mu   sync.Mutex
		errs []string
	)
	opt := nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err.Error())
	})
	return opt, func() string {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(errs, "\n")
	}
}
