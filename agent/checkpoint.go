package agent

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	fastjson "github.com/goccy/go-json"

	"github.com/agora-cluster/agora/agent/launcher"
	"github.com/agora-cluster/agora/sdk/wire"
)

// The agent checkpoints, under <work-dir>/meta:
//
//	tasks.log    the launcher's checkpoint of each task launched, and a record when it is forgotten
//	updates.log  status updates and acknowledgements
//
// Both are append-only logs of JSON records, one a line, compacted when
// most of their records are dead. Records are written before the update
// is sent (or the task reported RUNNING), so a killed agent resends every
// update that was not acknowledged. A task is forgotten in tasks.log before
// the acknowledgement of its terminal update is recorded, so that a crash
// between the two leaves that update to resend, never the task to report
// again. A batch of records is one write. Writes
// go to the kernel at once (they survive the agent's own crash); they are
// not fsynced one by one, so a machine crash can lose the last moments.
// Agents of earlier versions kept one file per task under tasks/; those
// are read once and moved into tasks.log.
type checkpointStore struct {
	dir string

	mu      sync.Mutex
	log     *os.File
	records int // records in updates.log, for compaction

	tmu      sync.Mutex
	tlog     *os.File
	trecords int // records in tasks.log
	live     map[taskKey]launcher.Checkpoint
}

// Records are written with the wire protocol's fast JSON codec and read
// back, after a restart, with encoding/json: the same format either way.

// taskRecord is one line of tasks.log.
type taskRecord struct {
	Op   string               `json:"op"` // "task" or "forget"
	Task *launcher.Checkpoint `json:"task,omitempty"`
	FW   wire.FrameworkID     `json:"fw,omitempty"`
	ID   wire.TaskID          `json:"id,omitempty"`
}

// logRecord is one line of updates.log.
type logRecord struct {
	Op     string             `json:"op"` // "update" or "ack"
	Update *wire.StatusUpdate `json:"update,omitempty"`
	FW     wire.FrameworkID   `json:"fw,omitempty"`
	Task   wire.TaskID        `json:"task,omitempty"`
	UUID   string             `json:"uuid,omitempty"`
}

// recovered is what a restarted agent finds in its checkpoints.
type recovered struct {
	tasks    []launcher.Checkpoint
	updates  []wire.StatusUpdate // unacknowledged, in the order they were made
	problems []string            // what could not be recovered, and why
}

func openCheckpoints(workDir string) (*checkpointStore, recovered, error) {
	s := &checkpointStore{dir: filepath.Join(workDir, "meta")}
	var rec recovered
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return nil, rec, fmt.Errorf("agent: checkpoint dir: %w", err)
	}
	legacy, problems := s.readTasks()
	rec.problems = append(rec.problems, problems...)
	byKey := map[taskKey]launcher.Checkpoint{}
	var order []taskKey
	add := func(cp launcher.Checkpoint) {
		k := taskKey{cp.Spec.FrameworkID, cp.Spec.Task.TaskID}
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		byKey[k] = cp
	}
	for _, cp := range legacy {
		add(cp)
	}
	if f, err := os.Open(filepath.Join(s.dir, "tasks.log")); err == nil {
		tasks, probs := ReadTaskLog(f)
		f.Close()
		rec.problems = append(rec.problems, probs...)
		for _, cp := range tasks {
			add(cp)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, rec, fmt.Errorf("agent: %w", err)
	}
	for _, k := range order {
		rec.tasks = append(rec.tasks, byKey[k])
	}
	if err := s.rewriteTasks(rec.tasks); err != nil {
		return nil, rec, err
	}
	if len(legacy) > 0 || len(problems) > 0 {
		// Moved into tasks.log: the per-task files are not read again.
		_ = os.RemoveAll(filepath.Join(s.dir, "tasks"))
	}
	path := filepath.Join(s.dir, "updates.log")
	if f, err := os.Open(path); err == nil {
		var probs []string
		rec.updates, probs = ReadUpdateLog(f)
		f.Close()
		rec.problems = append(rec.problems, probs...)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, rec, fmt.Errorf("agent: %w", err)
	}
	// Start a fresh log holding only what is still pending.
	if err := s.rewrite(rec.updates); err != nil {
		return nil, rec, err
	}
	return s, rec, nil
}

func (s *checkpointStore) readTasks() ([]launcher.Checkpoint, []string) {
	var out []launcher.Checkpoint
	var problems []string
	root := filepath.Join(s.dir, "tasks")
	fws, _ := os.ReadDir(root)
	for _, fw := range fws {
		files, _ := os.ReadDir(filepath.Join(root, fw.Name()))
		for _, f := range files {
			path := filepath.Join(root, fw.Name(), f.Name())
			if !strings.HasSuffix(f.Name(), ".json") {
				continue
			}
			b, err := os.ReadFile(path)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", path, err))
				continue
			}
			var cp launcher.Checkpoint
			if err := json.Unmarshal(b, &cp); err != nil || cp.Spec.Task.TaskID == "" || cp.Spec.FrameworkID == "" {
				problems = append(problems, fmt.Sprintf("%s: unreadable task checkpoint (%v)", path, err))
				continue
			}
			out = append(out, cp)
		}
	}
	return out, problems
}

// ReadUpdateLog replays an update log: it returns the updates that were
// never acknowledged, in order, and a description of every record it had
// to skip (a torn last line after a crash, corrupt bytes). It never fails
// as a whole and never panics.
func ReadUpdateLog(r io.Reader) ([]wire.StatusUpdate, []string) {
	var problems []string
	type entry struct {
		up    wire.StatusUpdate
		acked bool
	}
	var order []*entry
	byUUID := map[string]*entry{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), wire.MaxMessageBytes)
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		var rec logRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			problems = append(problems, fmt.Sprintf("updates.log line %d: skipped corrupt record: %v", line, err))
			continue
		}
		switch rec.Op {
		case "update":
			if rec.Update == nil || rec.Update.Status.UUID == "" || rec.Update.Validate() != nil {
				problems = append(problems, fmt.Sprintf("updates.log line %d: skipped invalid update", line))
				continue
			}
			if _, dup := byUUID[rec.Update.Status.UUID]; dup {
				continue
			}
			e := &entry{up: *rec.Update}
			byUUID[e.up.Status.UUID] = e
			order = append(order, e)
		case "ack":
			if e := byUUID[rec.UUID]; e != nil {
				e.acked = true
			}
		default:
			problems = append(problems, fmt.Sprintf("updates.log line %d: skipped unknown record %q", line, rec.Op))
		}
	}
	if err := sc.Err(); err != nil {
		problems = append(problems, fmt.Sprintf("updates.log: stopped reading at line %d: %v", line+1, err))
	}
	var out []wire.StatusUpdate
	for _, e := range order {
		if !e.acked {
			out = append(out, e.up)
		}
	}
	return out, problems
}

// ReadTaskLog replays a task log: it returns the checkpoints of the tasks
// launched and not forgotten, in launch order, and a description of every
// record it had to skip. Like ReadUpdateLog it never fails as a whole and
// never panics.
func ReadTaskLog(r io.Reader) ([]launcher.Checkpoint, []string) {
	var problems []string
	live := map[taskKey]launcher.Checkpoint{}
	var order []taskKey
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), wire.MaxMessageBytes)
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		var rec taskRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			problems = append(problems, fmt.Sprintf("tasks.log line %d: skipped corrupt record: %v", line, err))
			continue
		}
		switch rec.Op {
		case "task":
			if rec.Task == nil || rec.Task.Spec.Task.TaskID == "" || rec.Task.Spec.FrameworkID == "" {
				problems = append(problems, fmt.Sprintf("tasks.log line %d: skipped a task record without framework or task ID", line))
				continue
			}
			k := taskKey{rec.Task.Spec.FrameworkID, rec.Task.Spec.Task.TaskID}
			if _, ok := live[k]; !ok {
				order = append(order, k)
			}
			live[k] = *rec.Task
		case "forget":
			delete(live, taskKey{rec.FW, rec.ID})
		default:
			problems = append(problems, fmt.Sprintf("tasks.log line %d: skipped unknown record %q", line, rec.Op))
		}
	}
	if err := sc.Err(); err != nil {
		problems = append(problems, fmt.Sprintf("tasks.log: stopped reading at line %d: %v", line+1, err))
	}
	var out []launcher.Checkpoint
	for _, k := range order {
		if cp, ok := live[k]; ok {
			out = append(out, cp)
			delete(live, k) // a task forgotten and launched again is listed once
		}
	}
	return out, problems
}

// appendRecords writes records to the update log in one write.
func (s *checkpointStore) appendRecords(recs []logRecord) error {
	var buf []byte
	for i := range recs {
		b, err := fastjson.Marshal(recs[i])
		if err != nil {
			return err
		}
		buf = append(append(buf, b...), '\n')
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log == nil {
		return errors.New("agent: checkpoint store closed")
	}
	s.records += len(recs)
	_, err := s.log.Write(buf)
	return err
}

func (s *checkpointStore) addUpdate(up wire.StatusUpdate) error {
	return s.addUpdates([]wire.StatusUpdate{up})
}

// addUpdates checkpoints updates, in order, in one write.
func (s *checkpointStore) addUpdates(ups []wire.StatusUpdate) error {
	recs := make([]logRecord, len(ups))
	for i := range ups {
		recs[i] = logRecord{Op: "update", Update: &ups[i]}
	}
	return s.appendRecords(recs)
}

func (s *checkpointStore) ackUpdate(fw wire.FrameworkID, task wire.TaskID, uuid string) error {
	return s.ackUpdates([]wire.StatusAck{{FrameworkID: fw, TaskID: task, UUID: uuid}})
}

// ackUpdates checkpoints acknowledgements in one write.
func (s *checkpointStore) ackUpdates(acks []wire.StatusAck) error {
	recs := make([]logRecord, len(acks))
	for i, a := range acks {
		recs[i] = logRecord{Op: "ack", FW: a.FrameworkID, Task: a.TaskID, UUID: a.UUID}
	}
	return s.appendRecords(recs)
}

// needsCompaction reports whether the log holds many more records than
// pending updates.
func (s *checkpointStore) needsCompaction(pending int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records > 1000 && s.records > 4*pending
}

// rewrite replaces the log with one holding only pending.
func (s *checkpointStore) rewrite(pending []wire.StatusUpdate) error {
	path := filepath.Join(s.dir, "updates.log")
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("agent: checkpoint: %w", err)
	}
	w := bufio.NewWriter(f)
	for i := range pending {
		b, _ := json.Marshal(logRecord{Op: "update", Update: &pending[i]})
		w.Write(append(b, '\n'))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("agent: checkpoint: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("agent: checkpoint: %w", err)
	}
	f.Close()
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("agent: checkpoint: %w", err)
	}
	lf, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("agent: checkpoint: %w", err)
	}
	s.mu.Lock()
	old := s.log
	s.log, s.records = lf, len(pending)
	s.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

func (s *checkpointStore) saveTask(cp launcher.Checkpoint) error {
	return s.saveTasks([]launcher.Checkpoint{cp})
}

// saveTasks checkpoints launched tasks in one write to tasks.log.
func (s *checkpointStore) saveTasks(cps []launcher.Checkpoint) error {
	if len(cps) == 0 {
		return nil
	}
	var buf []byte
	for i := range cps {
		b, err := fastjson.Marshal(taskRecord{Op: "task", Task: &cps[i]})
		if err != nil {
			return err
		}
		buf = append(append(buf, b...), '\n')
	}
	s.tmu.Lock()
	defer s.tmu.Unlock()
	if s.tlog == nil {
		return errors.New("agent: checkpoint store closed")
	}
	if _, err := s.tlog.Write(buf); err != nil {
		return err
	}
	s.trecords += len(cps)
	for _, cp := range cps {
		s.live[taskKey{cp.Spec.FrameworkID, cp.Spec.Task.TaskID}] = cp
	}
	return nil
}

// removeTask records that a task is forgotten; the log is compacted when
// most of its records are dead.
func (s *checkpointStore) removeTask(fw wire.FrameworkID, task wire.TaskID) {
	b, _ := fastjson.Marshal(taskRecord{Op: "forget", FW: fw, ID: task})
	s.tmu.Lock()
	defer s.tmu.Unlock()
	if s.tlog == nil {
		return
	}
	_, _ = s.tlog.Write(append(b, '\n'))
	s.trecords++
	delete(s.live, taskKey{fw, task})
	if s.trecords > 1000 && s.trecords > 4*len(s.live) {
		live := make([]launcher.Checkpoint, 0, len(s.live))
		for _, cp := range s.live {
			live = append(live, cp)
		}
		_ = s.rewriteTasksLocked(live)
	}
}

// rewriteTasks replaces tasks.log with one holding only live.
func (s *checkpointStore) rewriteTasks(live []launcher.Checkpoint) error {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	s.live = map[taskKey]launcher.Checkpoint{}
	for _, cp := range live {
		s.live[taskKey{cp.Spec.FrameworkID, cp.Spec.Task.TaskID}] = cp
	}
	return s.rewriteTasksLocked(live)
}

// rewriteTasksLocked writes live to a new tasks.log and switches to it;
// s.tmu is held, so that no record goes to the old file meanwhile.
func (s *checkpointStore) rewriteTasksLocked(live []launcher.Checkpoint) error {
	path := filepath.Join(s.dir, "tasks.log")
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("agent: checkpoint: %w", err)
	}
	w := bufio.NewWriter(f)
	for i := range live {
		b, _ := json.Marshal(taskRecord{Op: "task", Task: &live[i]})
		w.Write(append(b, '\n'))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("agent: checkpoint: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("agent: checkpoint: %w", err)
	}
	f.Close()
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("agent: checkpoint: %w", err)
	}
	lf, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("agent: checkpoint: %w", err)
	}
	if s.tlog != nil {
		s.tlog.Close()
	}
	s.tlog, s.trecords = lf, len(live)
	return nil
}

func (s *checkpointStore) close() {
	s.mu.Lock()
	if s.log != nil {
		s.log.Close()
		s.log = nil
	}
	s.mu.Unlock()
	s.tmu.Lock()
	if s.tlog != nil {
		s.tlog.Close()
		s.tlog = nil
	}
	s.tmu.Unlock()
}
