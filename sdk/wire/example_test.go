package wire_test

import (
	"fmt"

	"github.com/agora-cluster/agora/sdk/wire"
)

func ExampleParseResources() {
	agent, _ := wire.ParseResources("cpus:4;mem:8192;ports:[31000-31999]")
	task, _ := wire.ParseResources("cpus:0.5;mem:512;ports:[31000-31001]")
	fmt.Println(agent.Contains(task))
	fmt.Println(agent.Sub(task))
	// Output:
	// true
	// cpus:3.5;mem:7680;disk:0;ports:[31002-31999]
}
