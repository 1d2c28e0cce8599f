package agent

import (
	"bytes"
	"encoding/json"
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
