package dev

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/agora-cluster/agora/framework/batch"
	"github.com/agora-cluster/agora/master/natsembed"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Files of a secured dev cluster's data dir, both mode 0600.
const (
	// AuthFile holds the NATS identities, in the format of
	// `agora master --auth-file`.
	AuthFile = "auth.json"
	// TokenFile holds the operator token.
	TokenFile = "operator-token"
)

// ExamplesUser is the identity your frameworks log in as. agora dev also
// creates "master", one per agent ("agent1", ...), "batch" and "service".
const ExamplesUser = "examples"

const (
	masterUser  = "master"
	batchUser   = "batch"
	serviceUser = "service"
)

// ExampleIDs are the framework IDs the "examples" identity may use: one
// per program under examples/ (drf runs two frameworks, drf-a and drf-b).
var ExampleIDs = []string{"hello", "pi", "first", "failover", "drf-a", "drf-b"}

// Where the bundled frameworks keep their framework ID, under their data
// dirs (dev's <dir>/batch and <dir>/service): their identities must be
// confined to the IDs they will subscribe with.
var (
	batchIDFile   = filepath.Join("batch", batch.FrameworkIDFile)
	serviceIDFile = filepath.Join("service", "framework-id") // see service.Start
	// agentIDFile is where agent i (0-based) keeps its ID under dev's dir
	// (sdktest's layout; see agent.Start).
	agentIDFile = func(i int) string { return filepath.Join(fmt.Sprintf("agent%d", i+1), "agent-id") }
)

// credentials is what a secured dev cluster logs in with.
type credentials struct {
	auth     *natsembed.Auth
	token    string
	authPath string
	tokPath  string
}

// user returns the identity named name.
func (c *credentials) user(name string) natsembed.User {
	for _, u := range c.auth.Users {
		if u.Name == name {
			return u
		}
	}
	return natsembed.User{}
}

// loadOrCreateCredentials reads the credentials of an earlier run from
// dir, adds what is missing for this one (agents, frameworks) and writes
// them back, so that a restarted dev cluster keeps its passwords and IDs.
func loadOrCreateCredentials(dir string, agents int) (*credentials, error) {
	c := &credentials{authPath: filepath.Join(dir, AuthFile), tokPath: filepath.Join(dir, TokenFile)}
	c.auth = &natsembed.Auth{}
	if _, err := os.Stat(c.authPath); err == nil {
		if c.auth, err = natsembed.LoadAuth(c.authPath); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("auth file: %w", err)
	}
	ensure := func(name string, kind natsembed.Kind, fix func(*natsembed.User)) {
		for i := range c.auth.Users {
			if u := &c.auth.Users[i]; u.Name == name {
				u.Kind = kind
				fix(u)
				return
			}
		}
		u := natsembed.User{Name: name, Password: wire.NewUUID(), Kind: kind}
		fix(&u)
		c.auth.Users = append(c.auth.Users, u)
	}
	// idFrom makes an identity's ID the one a component already keeps in
	// file (it is registered under it), else keeps the identity's, else
	// picks def.
	idFrom := func(file, def string) func(*natsembed.User) {
		return func(u *natsembed.User) {
			if b, err := os.ReadFile(filepath.Join(dir, file)); err == nil && strings.TrimSpace(string(b)) != "" {
				u.ID = strings.TrimSpace(string(b))
			} else if u.ID == "" {
				u.ID = def
			}
		}
	}
	ensure(masterUser, natsembed.KindMaster, func(*natsembed.User) {})
	for i := range agents {
		ensure(fmt.Sprintf("agent%d", i+1), natsembed.KindAgent, idFrom(agentIDFile(i), fmt.Sprintf("agent%d", i+1)))
	}
	ensure(batchUser, natsembed.KindFramework, idFrom(batchIDFile, wire.NewID("fw-")))
	ensure(serviceUser, natsembed.KindFramework, idFrom(serviceIDFile, wire.NewID("fw-")))
	ensure(ExamplesUser, natsembed.KindFramework, func(u *natsembed.User) {
		have := map[string]bool{}
		for _, id := range u.AllIDs() {
			have[id] = true
		}
		for _, id := range ExampleIDs {
			if !have[id] {
				u.IDs = append(u.IDs, id)
			}
		}
	})
	if err := c.auth.Validate(); err != nil {
		return nil, err
	}
	// The bundled frameworks subscribe with the IDs their identities are
	// confined to.
	for _, f := range []struct{ file, user string }{{batchIDFile, batchUser}, {serviceIDFile, serviceUser}} {
		p := filepath.Join(dir, f.file)
		if _, err := os.Stat(p); err == nil {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, []byte(c.user(f.user).ID+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	if err := c.auth.Save(c.authPath); err != nil {
		return nil, err
	}
	if b, err := os.ReadFile(c.tokPath); err == nil && strings.TrimSpace(string(b)) != "" {
		c.token = strings.TrimSpace(string(b))
	} else {
		c.token = wire.NewUUID()
	}
	if err := writePrivate(c.tokPath, c.token+"\n"); err != nil {
		return nil, err
	}
	return c, nil
}

// writePrivate writes a file only its owner can read.
func writePrivate(path, content string) error {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return err
	}
	return os.Chmod(path, 0o600) // WriteFile keeps an existing file's mode
}
