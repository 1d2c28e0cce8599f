package agent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agora-cluster/agora/agent/launcher"
	"github.com/agora-cluster/agora/sdk/wire"
)

func TestCheckpointReplay(t *testing.T) {
	dir := t.TempDir()
	s, rec, err := openCheckpoints(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.updates) != 0 || len(rec.tasks) != 0 {
		t.Fatalf("fresh dir recovered %+v", rec)
	}
	for _, u := range []wire.StatusUpdate{up("t1", "a", wire.TaskStarting), up("t1", "b", wire.TaskRunning), up("t2", "c", wire.TaskRunning)} {
		if err := s.addUpdate(u); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ackUpdate("f", "t1", "a"); err != nil {
		t.Fatal(err)
	}
	cp := launcher.Checkpoint{Executor: "sim", Spec: launcher.Spec{FrameworkID: "f", Task: wire.TaskInfo{TaskID: "t1"}}}
	if err := s.saveTask(cp); err != nil {
		t.Fatal(err)
	}
	s.close()
	// A torn last line, as a crash mid-write leaves it.
	f, _ := os.OpenFile(filepath.Join(dir, "meta", "updates.log"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"op":"update","update":{"framework_id":"f","sta`)
	f.Close()

	s2, rec, err := openCheckpoints(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.close()
	var got []string
	for _, u := range rec.updates {
		got = append(got, u.Status.UUID)
	}
	if strings.Join(got, ",") != "b,c" {
		t.Fatalf("pending after replay = %v, want b,c", got)
	}
	if len(rec.tasks) != 1 || rec.tasks[0].Spec.Task.TaskID != "t1" {
		t.Fatalf("tasks = %+v", rec.tasks)
	}
	if len(rec.problems) != 1 || !strings.Contains(rec.problems[0], "corrupt") {
		t.Fatalf("problems = %v, want the torn line reported", rec.problems)
	}
	// The log was compacted to the pending updates.
	b, _ := os.ReadFile(filepath.Join(dir, "meta", "updates.log"))
	if n := bytes.Count(b, []byte("\n")); n != 2 {
		t.Fatalf("compacted log has %d records, want 2", n)
	}
}

func FuzzReadUpdateLog(f *testing.F) {
	rec := func(r logRecord) string { b, _ := json.Marshal(r); return string(b) + "\n" }
	u := up("t1", "a", wire.TaskRunning)
	f.Add(rec(logRecord{Op: "update", Update: &u}) + rec(logRecord{Op: "ack", UUID: "a"}))
	f.Add(rec(logRecord{Op: "update", Update: &u}) + `{"op":"upd`)
	f.Add("\x00\xff\n\n{}\n")
	f.Add(`{"op":"update","update":{"framework_id":"f","status":{"task_id":"t","state":"TASK_RUNNING","uuid":"x"}}}` + "\n")
	f.Fuzz(func(t *testing.T, data string) {
		ups, _ := ReadUpdateLog(strings.NewReader(data))
		seen := map[string]bool{}
		for _, u := range ups {
			if u.Status.UUID == "" || seen[u.Status.UUID] || u.Validate() != nil {
				t.Fatalf("replay returned an invalid or duplicate update %+v", u)
			}
			seen[u.Status.UUID] = true
		}
	})
}

func taskCP(fw, task string) launcher.Checkpoint {
	return launcher.Checkpoint{Executor: "sim", Spec: launcher.Spec{FrameworkID: wire.FrameworkID(fw), Task: wire.TaskInfo{TaskID: wire.TaskID(task)}}}
}

// TestTaskLog: tasks saved in a batch and later forgotten are replayed as
// exactly the live ones; a log that is mostly dead records is compacted;
// per-task files of earlier agents are moved into the log.
func TestTaskLog(t *testing.T) {
	dir := t.TempDir()
	// An earlier agent's per-task checkpoint file.
	legacy := filepath.Join(dir, "meta", "tasks", "f")
	if err := os.MkdirAll(legacy, 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(taskCP("f", "old"))
	if err := os.WriteFile(filepath.Join(legacy, "old.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	s, rec, err := openCheckpoints(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.tasks) != 1 || rec.tasks[0].Spec.Task.TaskID != "old" {
		t.Fatalf("legacy task not recovered: %+v", rec.tasks)
	}
	if _, err := os.Stat(filepath.Join(dir, "meta", "tasks")); !os.IsNotExist(err) {
		t.Fatalf("legacy task dir still there after the move: %v", err)
	}
	var batch []launcher.Checkpoint
	for i := range 1500 {
		batch = append(batch, taskCP("f", fmt.Sprintf("t%d", i)))
	}
	if err := s.saveTasks(batch); err != nil {
		t.Fatal(err)
	}
	for i := range 1490 {
		s.removeTask("f", wire.TaskID(fmt.Sprintf("t%d", i)))
	}
	s.close()
	data, _ := os.ReadFile(filepath.Join(dir, "meta", "tasks.log"))
	if n := bytes.Count(data, []byte("\n")); n > 1000 {
		t.Fatalf("tasks.log has %d records for 11 live tasks: never compacted", n)
	}
	s2, rec, err := openCheckpoints(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.close()
	got := map[wire.TaskID]bool{}
	for _, cp := range rec.tasks {
		got[cp.Spec.Task.TaskID] = true
	}
	if len(got) != 11 || !got["old"] || !got["t1499"] || got["t0"] || len(rec.problems) != 0 {
		t.Fatalf("recovered %d tasks %v, problems %v; want old and t1490..t1499", len(got), got, rec.problems)
	}
}

func FuzzReadTaskLog(f *testing.F) {
	rec := func(r taskRecord) string { b, _ := json.Marshal(r); return string(b) + "\n" }
	cp := taskCP("f", "t1")
	f.Add(rec(taskRecord{Op: "task", Task: &cp}) + rec(taskRecord{Op: "forget", FW: "f", ID: "t1"}))
	f.Add(rec(taskRecord{Op: "task", Task: &cp}) + `{"op":"ta`)
	f.Add("\x00\xff\n\n{}\n")
	f.Add(`{"op":"task","task":{"executor":"sim","spec":{"framework_id":"f","task":{"task_id":"t"}},"pid":-1}}` + "\n")
	f.Fuzz(func(t *testing.T, data string) {
		tasks, _ := ReadTaskLog(strings.NewReader(data))
		seen := map[taskKey]bool{}
		for _, cp := range tasks {
			k := taskKey{cp.Spec.FrameworkID, cp.Spec.Task.TaskID}
			if k.fw == "" || k.task == "" || seen[k] {
				t.Fatalf("replay returned an invalid or duplicate task %+v", k)
			}
			seen[k] = true
		}
	})
}
