package workload

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"
)

// Config configures the workload process. The harness writes it as JSON
// and passes its path.
type Config struct {
	// ID is the run's unique name; framework IDs start with it.
	ID string `json:"id"`
	// Masters maps each master's name to its addresses.
	Masters map[string]MasterAddrs `json:"masters"`
	// Socket is the Unix socket the control server listens on.
	Socket string `json:"socket"`
	// Ledger is the file every task appends "S fw task pid" to when it
	// starts and "E fw task pid code" to when a batch task ends.
	Ledger string `json:"ledger"`
	// OutDir receives record.json and workload.log.
	OutDir string `json:"out_dir"`
	Seed   int64  `json:"seed"`
	// BatchInFlight is how many batch tasks are kept launched or waiting.
	BatchInFlight int `json:"batch_in_flight"`
	// ServiceInstances is how many service instances are kept running.
	ServiceInstances int `json:"service_instances"`
	// RoleClients and FrameworkClients are the numbers of linearizability
	// clients; Roles are the roles the role clients write.
	RoleClients      int      `json:"role_clients"`
	FrameworkClients int      `json:"framework_clients"`
	Roles            []string `json:"roles"`
	// HTTPTimeout bounds one registry HTTP call (default 10 s: longer than
	// a pause, so that a paused master's late answers are checked too).
	HTTPTimeout Duration `json:"http_timeout"`
}

// MasterAddrs are where a master listens.
type MasterAddrs struct {
	// HTTP is the operator API, host:port.
	HTTP string `json:"http"`
	// NATS is its embedded NATS server's client URL.
	NATS string `json:"nats"`
}

// NATSURLs lists every master's NATS URL, in name order.
func (c *Config) NATSURLs() []string {
	var names []string
	for n := range c.Masters {
		names = append(names, n)
	}
	sortStrings(names)
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, c.Masters[n].NATS)
	}
	return out
}

// Duration is a time.Duration that encodes as a string ("1.5s").
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.ID == "" {
		errs = append(errs, errors.New("id is required"))
	}
	if len(c.Masters) == 0 {
		errs = append(errs, errors.New("masters are required"))
	}
	for n, m := range c.Masters {
		if m.HTTP == "" || m.NATS == "" {
			errs = append(errs, fmt.Errorf("master %s: http and nats addresses are required", n))
		}
	}
	if c.Socket == "" || c.Ledger == "" || c.OutDir == "" {
		errs = append(errs, errors.New("socket, ledger and out_dir are required"))
	}
	if c.BatchInFlight < 0 || c.ServiceInstances < 0 || c.RoleClients < 0 || c.FrameworkClients < 0 {
		errs = append(errs, errors.New("counts must not be negative"))
	}
	if c.RoleClients > 0 && len(c.Roles) == 0 {
		errs = append(errs, errors.New("role clients need roles"))
	}
	return errors.Join(errs...)
}

// LoadConfig reads a configuration written by the harness.
func LoadConfig(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("workload: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("workload: config %s: %w", path, err)
	}
	if c.HTTPTimeout <= 0 {
		c.HTTPTimeout = Duration(10 * time.Second)
	}
	return c, c.Validate()
}
