package master_test

import (
	"errors"
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// TestCallsRelayedToAgents: KILL of an unknown task is answered
// TASK_UNKNOWN; MESSAGE reaches the named agent as FRAMEWORK_MESSAGE;
// SHUTDOWN and TEARDOWN reach the task's agent as SHUTDOWN_FRAMEWORK, and
// TEARDOWN removes the framework from the registry. The agent is driven by
// hand, so what the master sends it is seen directly.
func TestCallsRelayedToAgents(t *testing.T) {
	c, a, d, rec, _ := launchOnRawAgent(t, "calls")
	a.next(wire.TypeLaunch)
	ctx := sdktest.Ctx(t, 10*time.Second)
	fw := d.FrameworkID()

	// KILL of a task nobody knows.
	if err := d.Kill(ctx, "ghost", ""); err != nil {
		t.Fatal(err)
	}
	st := rec.WaitState(t, 5*time.Second, "ghost", wire.TaskUnknown)
	if st.Reason != wire.ReasonTaskUnknown || st.Source != wire.SourceMaster {
		t.Fatalf("kill of an unknown task answered %+v", st)
	}

	// MESSAGE to the agent.
	if err := d.Message(ctx, "raw1", []byte("hello agent")); err != nil {
		t.Fatal(err)
	}
	var fm wire.FrameworkMessage
	if err := wire.DecodeBody(a.next(wire.TypeFrameworkMessage), &fm); err != nil {
		t.Fatal(err)
	}
	if fm.FrameworkID != fw || fm.Message.AgentID != "raw1" || string(fm.Message.Data) != "hello agent" {
		t.Fatalf("FRAMEWORK_MESSAGE %+v", fm)
	}
	// ... and to an agent that is not registered: refused.
	var we *wire.Error
	if err := d.Message(ctx, "nowhere", []byte("x")); !errors.As(err, &we) || we.Code != wire.CodeUnknownAgent {
		t.Fatalf("message to an unknown agent: %v", err)
	}

	// SHUTDOWN of the framework's executor on the agent.
	if err := d.Shutdown(ctx, "raw1"); err != nil {
		t.Fatal(err)
	}
	var sf wire.ShutdownFramework
	if err := wire.DecodeBody(a.next(wire.TypeShutdownFramework), &sf); err != nil || sf.FrameworkID != fw {
		t.Fatalf("SHUTDOWN_FRAMEWORK after SHUTDOWN: %+v %v", sf, err)
	}

	// TEARDOWN: the agent running its task is told, and the framework is
	// forgotten.
	if err := d.Stop(ctx, false); err != nil {
		t.Fatal(err)
	}
	sf = wire.ShutdownFramework{}
	if err := wire.DecodeBody(a.next(wire.TypeShutdownFramework), &sf); err != nil || sf.FrameworkID != fw {
		t.Fatalf("SHUTDOWN_FRAMEWORK after TEARDOWN: %+v %v", sf, err)
	}
	if _, ok := c.Leader().Registry().Framework(fw); ok {
		t.Fatal("torn-down framework still in the registry")
	}
}
