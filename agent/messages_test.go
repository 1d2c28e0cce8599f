package agent

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/agora-cluster/agora/agent/launcher"
	"github.com/agora-cluster/agora/sdk/wire"
)

// sandboxTask is a launcher.Task of which deliver only needs the sandbox.
type sandboxTask struct {
	launcher.Task
	dir string
}

func (s sandboxTask) Sandbox() string { return s.dir }

// TestDeliverFrameworkMessage: a message naming a task goes to that task
// only; one naming none goes to each running task of the framework; ended
// tasks and other frameworks' tasks get nothing.
func TestDeliverFrameworkMessage(t *testing.T) {
	a := &Agent{log: slog.New(slog.NewTextHandler(io.Discard, nil)), tasks: map[taskKey]*task{}}
	dirs := map[string]string{}
	add := func(fw wire.FrameworkID, id wire.TaskID, done bool) {
		dir := t.TempDir()
		dirs[string(fw)+"/"+string(id)] = dir
		a.tasks[taskKey{fw, id}] = &task{fw: fw, info: wire.TaskInfo{TaskID: id}, proc: sandboxTask{dir: dir}, done: done}
	}
	add("fw1", "a", false)
	add("fw1", "b", false)
	add("fw1", "ended", true)
	add("fw2", "a", false)
	a.tasks[taskKey{"fw1", "sim"}] = &task{fw: "fw1", info: wire.TaskInfo{TaskID: "sim"}, proc: sandboxTask{}}

	a.deliver(wire.FrameworkMessage{FrameworkID: "fw1", Message: wire.Message{TaskID: "a", Data: []byte("to a")}})
	a.deliver(wire.FrameworkMessage{FrameworkID: "fw1", Message: wire.Message{Data: []byte("to all")}})
	a.deliver(wire.FrameworkMessage{FrameworkID: "fw1", Message: wire.Message{TaskID: "nobody", Data: []byte("lost")}})

	for task, want := range map[string]string{
		"fw1/a": "to a\nto all\n", "fw1/b": "to all\n", "fw1/ended": "", "fw2/a": "",
	} {
		b, err := os.ReadFile(filepath.Join(dirs[task], launcher.MessagesFile))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if string(b) != want {
			t.Errorf("%s got %q, want %q", task, b, want)
		}
	}
}
