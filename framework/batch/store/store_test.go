package store

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/agora-cluster/agora/framework/batch/record"
	"github.com/agora-cluster/agora/framework/batch/spec"
)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRoundTripAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path)
	now := time.Now().UTC().Truncate(time.Millisecond)
	job := record.Job{Spec: spec.Job{Name: "a", Command: "true", Instances: 3}.WithDefaults(), Version: 1, Created: now}
	run := record.Run{ID: 7, Job: "a", Spec: job.Spec, State: record.RunRunning, Created: now}
	var atts []record.Attempt
	for i := range 3 {
		atts = append(atts, record.Attempt{TaskID: record.TaskID("a", 7, i, 1), Run: 7, Instance: i, N: 1, State: record.AttemptLaunching, Launched: now})
	}
	atts = append(atts, record.Attempt{TaskID: record.TaskID("a", 7, 0, 2), Run: 7, Instance: 0, N: 2, State: record.AttemptRunning})
	if err := s.Apply(&Batch{PutJobs: []record.Job{job}, PutRuns: []record.Run{run}, PutAttempts: atts, LastRunID: 7}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	defer s.Close()
	jobs, err := s.Jobs()
	if err != nil || len(jobs) != 1 || jobs[0].Spec.Name != "a" || jobs[0].Spec.Instances != 3 {
		t.Fatalf("jobs = %+v, %v", jobs, err)
	}
	if id, _ := s.LastRunID(); id != 7 {
		t.Errorf("last run id = %d", id)
	}
	active, err := s.ActiveRuns()
	if err != nil || len(active) != 1 || active[0].ID != 7 {
		t.Fatalf("active = %+v, %v", active, err)
	}
	got, err := s.Attempts(7)
	if err != nil || len(got) != 4 {
		t.Fatalf("attempts = %+v, %v", got, err)
	}
	if got[0].Instance != 0 || got[0].N != 1 || got[1].N != 2 || got[2].Instance != 1 {
		t.Errorf("attempt order: %+v", got)
	}
	// A lower LastRunID does not move the counter back.
	if err := s.Apply(&Batch{LastRunID: 3}); err != nil {
		t.Fatal(err)
	}
	if id, _ := s.LastRunID(); id != 7 {
		t.Errorf("last run id went back to %d", id)
	}
}

func TestHistoryAndDelete(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "state.db"))
	defer s.Close()
	job := record.Job{Spec: spec.Job{Name: "h", Command: "true"}.WithDefaults(), Version: 1}
	b := &Batch{PutJobs: []record.Job{job}}
	for id := uint64(1); id <= 10; id++ {
		b.PutRuns = append(b.PutRuns, record.Run{ID: id, Job: "h", State: record.RunSucceeded})
		b.PutAttempts = append(b.PutAttempts, record.Attempt{Run: id, Instance: 0, N: 1, State: record.AttemptSucceeded})
	}
	// Another job's run in between must not show up.
	b.PutRuns = append(b.PutRuns, record.Run{ID: 11, Job: "other", State: record.RunRunning})
	if err := s.Apply(b); err != nil {
		t.Fatal(err)
	}
	runs, err := s.JobRuns("h", 3, 0)
	if err != nil || len(runs) != 3 || runs[0].ID != 10 || runs[2].ID != 8 {
		t.Fatalf("newest 3 = %+v, %v", runs, err)
	}
	runs, _ = s.JobRuns("h", 3, 8)
	if len(runs) != 3 || runs[0].ID != 7 {
		t.Fatalf("page before 8 = %+v", runs)
	}
	if err := s.Apply(&Batch{DeleteRuns: []uint64{1, 2}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(1); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted run: %v", err)
	}
	if a, _ := s.Attempts(1); len(a) != 0 {
		t.Errorf("deleted run's attempts remain: %v", a)
	}
	ids, _ := s.JobRunIDs("h")
	if len(ids) != 8 || ids[0] != 3 {
		t.Errorf("ids after delete = %v", ids)
	}
	if err := s.Apply(&Batch{DeleteJobs: []string{"h"}}); err != nil {
		t.Fatal(err)
	}
	jobs, _ := s.Jobs()
	if len(jobs) != 0 {
		t.Errorf("jobs after delete: %v", jobs)
	}
	if _, err := s.Run(5); !errors.Is(err, ErrNotFound) {
		t.Errorf("run of deleted job: %v", err)
	}
	if _, err := s.Run(11); err != nil {
		t.Errorf("other job's run deleted: %v", err)
	}
}

func TestLockedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path)
	defer s.Close()
	if _, err := Open(path, Options{Timeout: 50 * time.Millisecond}); err == nil {
		t.Fatal("second Open of a locked file succeeded")
	}
}
