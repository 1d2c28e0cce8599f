package launcher

import (
	"slices"
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

func TestBuildExit(t *testing.T) {
	killed := killInfo{requested: true, reason: wire.ReasonAgentDraining, grace: 3 * time.Second}
	escalated := killed
	escalated.escalated = true
	for _, tc := range []struct {
		name   string
		o      outcome
		k      killInfo
		oom    uint64
		state  wire.TaskState
		reason wire.Reason
		msg    string
	}{
		{"exit 0", exited(0), killInfo{}, 0, wire.TaskFinished, wire.ReasonCommandExited, "exited with code 0"},
		{"exit 3", exited(3), killInfo{}, 0, wire.TaskFailed, wire.ReasonCommandExited, "exited with code 3"},
		{"signal", signalled("SIGSEGV"), killInfo{}, 0, wire.TaskFailed, wire.ReasonCommandExited, "terminated by SIGSEGV"},
		{"oom", signalled("SIGKILL"), killInfo{}, 1, wire.TaskFailed, wire.ReasonMemoryLimit,
			"memory limit of 32 MB exceeded: the OOM killer killed 1 process(es) and the task terminated by SIGKILL"},
		{"oom but exit 0", exited(0), killInfo{}, 2, wire.TaskFinished, wire.ReasonCommandExited,
			"exited with code 0; the OOM killer killed 2 of its processes"},
		{"kill wins over oom", signalled("SIGTERM"), killed, 1, wire.TaskKilled, wire.ReasonAgentDraining, "killed by SIGTERM"},
		{"escalated", signalled("SIGKILL"), escalated, 0, wire.TaskKilled, wire.ReasonAgentDraining, "killed by SIGKILL after 3s grace"},
		{"exit during grace", exited(0), killed, 0, wire.TaskKilled, wire.ReasonAgentDraining, "killed: exited with code 0 after SIGTERM"},
		{"kill default reason", signalled("SIGTERM"), killInfo{requested: true}, 0, wire.TaskKilled, wire.ReasonKilledByFramework, "killed by SIGTERM"},
		{"unknown", outcome{}, killInfo{}, 0, wire.TaskFailed, wire.ReasonAgentRestarted,
			"exit status unknown: the task ended while no agent was watching and left no exit status"},
	} {
		e := buildExit(tc.o, tc.k, tc.oom, 32)
		if e.State != tc.state || e.Reason != tc.reason || e.Message != tc.msg {
			t.Errorf("%s: got %s %s %q, want %s %s %q", tc.name, e.State, e.Reason, e.Message, tc.state, tc.reason, tc.msg)
		}
		if tc.o.known && (e.ExitCode == nil) == (tc.o.signal == "") {
			t.Errorf("%s: exit code %v with signal %q", tc.name, e.ExitCode, e.Signal)
		}
	}
}

func TestTaskEnv(t *testing.T) {
	spec := Spec{
		FrameworkID: "fw",
		Task:        wire.TaskInfo{TaskID: "t", Env: map[string]string{"HOME": "/elsewhere", "PORT": "1", "X": "y"}},
		Ports:       []uint64{8080, 9090},
	}
	env := taskEnv(map[string]string{"PATH": "/bin"}, spec, "/sb", 2)
	want := []string{
		"AGORA_FRAMEWORK_ID=fw", "AGORA_MESSAGES=/sb/framework-messages", "AGORA_RUN=2", "AGORA_SANDBOX=/sb", "AGORA_TASK_ID=t",
		"HOME=/elsewhere", "PATH=/bin", "PORT0=8080", "PORT1=9090", "PORT=8080", "PWD=/sb", "X=y",
	}
	if !slices.Equal(env, want) {
		t.Errorf("env =\n%v\nwant\n%v", env, want)
	}
}
