package natsembed

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/agora-cluster/agora/sdk/wire"
)

// Kind is what an identity may do on the bus.
type Kind string

// Kinds of identity.
const (
	KindMaster    Kind = "master"
	KindAgent     Kind = "agent"
	KindFramework Kind = "framework"
)

// User is one identity of the cluster. Agents and frameworks are confined
// to their own subjects: an agent can only talk as its ID, and a framework
// can neither read another's offers nor call as it.
type User struct {
	Name     string `json:"user"`
	Password string `json:"password"`
	Kind     Kind   `json:"kind"`
	// ID is the agent or framework ID the identity is confined to.
	ID string `json:"id,omitempty"`
	// IDs are further IDs the identity may act as (one login for several
	// frameworks, say); it is confined to ID and these together.
	IDs []string `json:"ids,omitempty"`
	// Principal is the only principal a framework identity may subscribe
	// with ("" leaves it free).
	Principal string `json:"principal,omitempty"`
}

// Auth is the cluster's identities (the masters' --auth-file).
type Auth struct {
	Users []User `json:"users"`
}

// LoadAuth reads and validates an auth file.
func LoadAuth(path string) (*Auth, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth file: %w", err)
	}
	var a Auth
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("auth file %s: %w", path, err)
	}
	return &a, a.Validate()
}

// Validate checks the identities.
func (a *Auth) Validate() error {
	seen := map[string]bool{}
	masters := 0
	for i, u := range a.Users {
		if u.Name == "" || u.Password == "" {
			return fmt.Errorf("users[%d]: user and password are required", i)
		}
		if seen[u.Name] {
			return fmt.Errorf("users[%d]: user %q given twice", i, u.Name)
		}
		seen[u.Name] = true
		switch u.Kind {
		case KindMaster:
			masters++
		case KindAgent, KindFramework:
			ids := u.AllIDs()
			if len(ids) == 0 {
				return fmt.Errorf("users[%d] (%s): an %s identity needs an id", i, u.Name, u.Kind)
			}
			for _, id := range ids {
				if err := wire.ValidID("id", id); err != nil {
					return fmt.Errorf("users[%d] (%s): %w", i, u.Name, err)
				}
			}
		default:
			return fmt.Errorf("users[%d] (%s): kind %q: want master, agent or framework", i, u.Name, u.Kind)
		}
	}
	if masters == 0 {
		return errors.New("auth: at least one master identity is required")
	}
	return nil
}

// AllIDs returns ID and IDs (without empty ones).
func (u User) AllIDs() []string {
	var out []string
	if u.ID != "" {
		out = append(out, u.ID)
	}
	for _, id := range u.IDs {
		if id != "" {
			out = append(out, id)
		}
	}
	return out
}

// Save writes the identities to path as an auth file, readable by its
// owner only (it holds passwords).
func (a *Auth) Save(path string) error {
	b, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("auth file: %w", err)
	}
	// WriteFile keeps the mode of an existing file: make sure.
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fmt.Errorf("auth file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("auth file: %w", err)
	}
	return nil
}

// Master returns the first master identity.
func (a *Auth) Master() User {
	for _, u := range a.Users {
		if u.Kind == KindMaster {
			return u
		}
	}
	return User{}
}

// Principal returns the principal a framework ID is bound to, if any.
func (a *Auth) Principal(fw wire.FrameworkID) (string, bool) {
	if a == nil {
		return "", false
	}
	for _, u := range a.Users {
		if u.Kind != KindFramework || u.Principal == "" {
			continue
		}
		for _, id := range u.AllIDs() {
			if id == string(fw) {
				return u.Principal, true
			}
		}
	}
	return "", false
}

// serverUsers turns the identities into NATS users with permissions.
func (a *Auth) serverUsers(prefix string) []*server.User {
	s := wire.NewSubjects(prefix)
	var out []*server.User
	for _, u := range a.Users {
		su := &server.User{Username: u.Name, Password: u.Password}
		switch u.Kind {
		case KindAgent:
			pub, sub := []string{}, []string{s.Leader()}
			for _, id := range u.AllIDs() {
				pub = append(pub, s.FromAgent(wire.AgentID(id)))
				sub = append(sub, s.Agent(wire.AgentID(id)), wire.InboxPrefix(string(KindAgent), id)+".>")
			}
			su.Permissions = &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: pub},
				Subscribe: &server.SubjectPermission{Allow: sub},
				// Answers to the master's requests (sandbox reads).
				Response: &server.ResponsePermission{MaxMsgs: 1},
			}
		case KindFramework:
			pub, sub := []string{}, []string{s.Leader()}
			for _, id := range u.AllIDs() {
				pub = append(pub, s.Call(wire.FrameworkID(id)))
				sub = append(sub, s.Framework(wire.FrameworkID(id)), wire.InboxPrefix(string(KindFramework), id)+".>")
			}
			su.Permissions = &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: pub},
				Subscribe: &server.SubjectPermission{Allow: sub},
			}
		}
		out = append(out, su)
	}
	return out
}
