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

	"github.com/agora-cluster/agora/agent/launcher"
	"github.com/agora-cluster/agora/sdk/wire"
)

// The agent checkpoints, under <work-dir>/meta:
//
//	tasks/<framework>/<task>.json  the launcher's checkpoint of each live task
//	updates.log                    status updates and acknowledgements, one JSON record a line
//
// Records are written before the update is sent, so a killed agent
// resends every update that was not acknowledged. Writes go to the kernel
// at once (they survive the agent's own crash); they are not fsynced one
// by one, so a machine crash can lose the last moments.
type checkpointStore struct {
	dir string

	mu      sync.Mutex
	log     *os.File
	records int // records in updates.log, for compaction
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
	if err := os.MkdirAll(filepath.Join(s.dir, "tasks"), 0o755); err != nil {
		return nil, rec, fmt.Errorf("agent: checkpoint dir: %w", err)
	}
	rec.tasks, rec.problems = s.readTasks()
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

func (s *checkpointStore) appendRecord(rec logRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log == nil {
		return errors.New("agent: checkpoint store closed")
	}
	s.records++
	_, err = s.log.Write(append(b, '\n'))
	return err
}

func (s *checkpointStore) addUpdate(up wire.StatusUpdate) error {
	return s.appendRecord(logRecord{Op: "update", Update: &up})
}

func (s *checkpointStore) ackUpdate(fw wire.FrameworkID, task wire.TaskID, uuid string) error {
	return s.appendRecord(logRecord{Op: "ack", FW: fw, Task: task, UUID: uuid})
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

func (s *checkpointStore) taskPath(fw wire.FrameworkID, task wire.TaskID) string {
	return filepath.Join(s.dir, "tasks", string(fw), string(task)+".json")
}

func (s *checkpointStore) saveTask(cp launcher.Checkpoint) error {
	path := s.taskPath(cp.Spec.FrameworkID, cp.Spec.Task.TaskID)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	// Like the update log, task checkpoints survive the agent's own crash
	// (the kernel has them) without an fsync per launch.
	return writeFile(path, b, false)
}

func (s *checkpointStore) removeTask(fw wire.FrameworkID, task wire.TaskID) {
	_ = os.Remove(s.taskPath(fw, task))
}

func (s *checkpointStore) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log != nil {
		s.log.Close()
		s.log = nil
	}
}
