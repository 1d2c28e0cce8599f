package master

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestCommandRejectsShortRaftTimeout(t *testing.T) {
	app := &cli.App{Name: "agora", Commands: []*cli.Command{Command()}}
	err := app.Run([]string{"agora", "master", "--name", "m1", "--data-dir", t.TempDir(),
		"--raft-addr", "127.0.0.1:0", "--http", "", "--raft-timeout", "10ms"})
	if err == nil || !strings.Contains(err.Error(), "--raft-timeout 10ms") {
		t.Fatalf("err = %v, want a --raft-timeout error", err)
	}
}
