package batch

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/sdk/wire"
)

// savedFrameworkID returns the framework ID stored in idFile, or a new
// one when there is none yet (sdk.NewDriver stores it).
func savedFrameworkID(idFile string) (wire.FrameworkID, error) {
	b, err := os.ReadFile(idFile)
	switch {
	case err == nil:
		if id := strings.TrimSpace(string(b)); id != "" {
			return wire.FrameworkID(id), nil
		}
	case !errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("read framework ID: %w", err)
	}
	return wire.FrameworkID(wire.NewID("fw-")), nil
}

// connectNATS opens the framework's NATS connection, with the options the
// SDK driver uses for a connection of its own (the inbox prefix is the
// one the masters' authorization allows the framework). The framework
// owns it, to report its state in metrics, and hands it to the driver.
func connectNATS(urls []string, id wire.FrameworkID) (*nats.Conn, error) {
	nc, err := nats.Connect(strings.Join(urls, ","),
		nats.Name("agora-framework-"+string(id)),
		nats.CustomInboxPrefix(wire.InboxPrefix("framework", string(id))),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond),
		// Notice a paused or cut-off server within seconds.
		nats.PingInterval(time.Second), nats.MaxPingsOutstanding(3),
	)
	if err != nil {
		return nil, fmt.Errorf("connect NATS: %w", err)
	}
	return nc, nil
}
