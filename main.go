// Command agora is the single Agora binary: masters, agents, the bundled
// frameworks, the operator CLI, a dev cluster and benchmarks.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/agora-cluster/agora/agent"
	"github.com/agora-cluster/agora/framework/batch"
	"github.com/agora-cluster/agora/framework/service"
	"github.com/agora-cluster/agora/master"
	"github.com/agora-cluster/agora/master/dev"
	"github.com/agora-cluster/agora/master/operator"
	"github.com/agora-cluster/agora/scripts/bench"
)

func main() {
	app := &cli.App{
		Name:  "agora",
		Usage: "a two-level cluster resource manager",
		Commands: []*cli.Command{
			master.Command(),
			agent.Command(),
			dev.Command(),
			batch.Command(),
			service.Command(),
			operator.Command(),
			bench.Command(),
		},
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "agora:", err)
		os.Exit(1)
	}
}
