package launcher

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

// Files in a run's sandbox.
const (
	// StdoutFile and StderrFile receive the task's output.
	StdoutFile = "stdout"
	StderrFile = "stderr"
	// ExitStatusFile is written by the wrapper: the command's status as a
	// decimal number, as the shell reports it ($?).
	ExitStatusFile = ".agora_exit_status"
	// ExitFile is written by the launcher once the exit is known: the Exit
	// as JSON. A run directory with this file is finished.
	ExitFile = ".agora_exit.json"
)

// SandboxDir returns <workDir>/frameworks/<fw>/tasks/<task>/runs/<run>.
// The IDs must be valid path components (see Spec validation).
func SandboxDir(workDir string, fw wire.FrameworkID, task wire.TaskID, run int) string {
	return filepath.Join(workDir, "frameworks", string(fw), "tasks", string(task), "runs", strconv.Itoa(run))
}

// pathComponent rejects IDs that cannot name a directory safely.
func pathComponent(field, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: missing %s", ErrInvalidSpec, field)
	case id == "." || id == "..", strings.ContainsAny(id, "/\x00"):
		return fmt.Errorf("%w: %s %q cannot name a sandbox directory", ErrInvalidSpec, field, id)
	case len(id) > 200:
		return fmt.Errorf("%w: %s longer than 200 characters", ErrInvalidSpec, field)
	}
	return nil
}

// makeSandbox creates the run directory for spec, taking the next free run
// number if spec.Run's directory exists. It returns the directory and run.
func makeSandbox(workDir string, spec Spec) (string, int, error) {
	run := max(spec.Run, 0)
	parent := filepath.Dir(SandboxDir(workDir, spec.FrameworkID, spec.Task.TaskID, run))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", 0, fmt.Errorf("%w: sandbox: %w", ErrLaunch, err)
	}
	for tries := 0; tries < 10000; tries, run = tries+1, run+1 {
		dir := filepath.Join(parent, strconv.Itoa(run))
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, run, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", 0, fmt.Errorf("%w: sandbox: %w", ErrLaunch, err)
		}
	}
	return "", 0, fmt.Errorf("%w: sandbox: no free run number under %s", ErrLaunch, parent)
}

// exitRecord is the content of ExitFile.
type exitRecord struct {
	Exit     Exit      `json:"exit"`
	Finished time.Time `json:"finished"`
}

func writeExitFile(sandbox string, e Exit) error {
	b, err := json.MarshalIndent(exitRecord{Exit: e, Finished: time.Now().UTC()}, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(sandbox, ExitFile+".*")
	if err != nil {
		return err
	}
	_, werr := f.Write(append(b, '\n'))
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(f.Name(), 0o644)
	}
	if werr == nil {
		werr = os.Rename(f.Name(), filepath.Join(sandbox, ExitFile))
	}
	if werr != nil {
		_ = os.Remove(f.Name())
	}
	return werr
}

// ReadExit returns the Exit recorded in a finished run's sandbox.
func ReadExit(sandbox string) (Exit, error) {
	b, err := os.ReadFile(filepath.Join(sandbox, ExitFile))
	if err != nil {
		return Exit{}, err
	}
	var r exitRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return Exit{}, fmt.Errorf("launcher: %s: %w", ExitFile, err)
	}
	return r.Exit, nil
}

// GCSandboxes removes the finished run directories under workDir whose
// ExitFile is older than olderThan, skipping any for which active (if not
// nil) returns true, and then the task and framework directories left
// empty. Runs without an ExitFile are never removed: their task may still
// run. It returns the run directories removed, and every error met on the
// way (it does not stop at the first).
func GCSandboxes(workDir string, olderThan time.Duration, active func(sandbox string) bool) ([]string, error) {
	cutoff := time.Now().Add(-olderThan)
	var removed []string
	var errs []error
	fwRoot := filepath.Join(workDir, "frameworks")
	fws, err := os.ReadDir(fwRoot)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("launcher: gc: %w", err)
	}
	for _, fw := range fws {
		tasksDir := filepath.Join(fwRoot, fw.Name(), "tasks")
		tasks, _ := os.ReadDir(tasksDir)
		for _, task := range tasks {
			runsDir := filepath.Join(tasksDir, task.Name(), "runs")
			runs, _ := os.ReadDir(runsDir)
			for _, run := range runs {
				dir := filepath.Join(runsDir, run.Name())
				fi, err := os.Stat(filepath.Join(dir, ExitFile))
				if err != nil || fi.ModTime().After(cutoff) || (active != nil && active(dir)) {
					continue
				}
				if err := os.RemoveAll(dir); err != nil {
					errs = append(errs, err)
					continue
				}
				removed = append(removed, dir)
			}
			// Each Remove fails harmlessly while the directory is not empty.
			_ = os.Remove(runsDir)
			_ = os.Remove(filepath.Join(tasksDir, task.Name()))
		}
		_ = os.Remove(tasksDir)
		_ = os.Remove(filepath.Join(fwRoot, fw.Name()))
	}
	if len(errs) > 0 {
		return removed, fmt.Errorf("launcher: gc: %w", errors.Join(errs...))
	}
	return removed, nil
}
