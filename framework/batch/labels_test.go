package batch

import (
	"maps"
	"testing"

	"github.com/agora-cluster/agora/framework/batch/record"
)

// TestJobLabelsReachTasks: a job's labels are on every task it launches,
// as the agent receives it from the master (with agora.batch/job naming
// the job), and one job's labels are not on another's tasks.
func TestJobLabelsReachTasks(t *testing.T) {
	c, execs := simCluster(t, 1, "cpus:4;mem:4096")
	s := startFramework(t, c, t.TempDir())
	file := writeFile(t, "labels.yaml", `
jobs:
  - {name: labelled, command: x, instances: 3, labels: {team: data, cost-centre: "42"}, simulate: {duration: 10ms}}
  - {name: plain, command: x, simulate: {duration: 10ms}}
`)
	if out, errOut, err := runCLI(t, s, "submit", file, "--wait"); err != nil {
		t.Fatalf("submit --wait: %v\n%s\n%s", err, out, errOut)
	}
	want := map[string]map[string]string{
		"labelled": {"agora.batch/job": "labelled", "team": "data", "cost-centre": "42"},
		"plain":    {"agora.batch/job": "plain"},
	}
	tasks := map[string]int{}
	for id, labels := range execs[0].taskLabels() {
		job, _, _, _, err := record.ParseTaskID(id)
		if err != nil {
			t.Fatalf("task %s: %v", id, err)
		}
		tasks[job]++
		if !maps.Equal(labels, want[job]) {
			t.Errorf("task %s reached the agent with labels %v, want %v", id, labels, want[job])
		}
	}
	if tasks["labelled"] != 3 || tasks["plain"] != 1 || len(tasks) != 2 {
		t.Fatalf("tasks launched per job: %v, want labelled 3, plain 1", tasks)
	}
}
