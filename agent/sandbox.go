package agent

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/sdk/wire"
)

// maxSandboxRead bounds one read of a sandbox file.
const maxSandboxRead = 1 << 20

// serveSandbox answers a SANDBOX_READ request from the master: a listing
// of a task's latest sandbox, or a range of one of its files. Paths may
// not leave the sandbox.
func (a *Agent) serveSandbox(msg *nats.Msg, env wire.Envelope) {
	reply := func(t wire.Type, body any) {
		if msg.Reply == "" {
			return
		}
		if data, err := wire.Encode(t, string(a.id), 0, body); err == nil {
			_ = msg.Respond(data)
		}
	}
	var req wire.SandboxRead
	if err := wire.DecodeBody(env, &req); err != nil {
		reply(wire.TypeError, wire.Errorf(wire.CodeInvalid, "%v", err))
		return
	}
	data, err := a.readSandbox(req)
	if err != nil {
		code := wire.CodeInvalid
		if errors.Is(err, fs.ErrNotExist) {
			code = wire.CodeUnknownAgent // nothing there; the HTTP layer maps it to 404
		}
		reply(wire.TypeError, wire.Errorf(code, "%v", err))
		return
	}
	reply(wire.TypeSandboxData, data)
}

// latestRun returns the sandbox of a task's highest-numbered run.
func (a *Agent) latestRun(fw wire.FrameworkID, task wire.TaskID) (string, error) {
	runs := filepath.Join(a.cfg.WorkDir, "frameworks", string(fw), "tasks", string(task), "runs")
	entries, err := os.ReadDir(runs)
	if err != nil {
		return "", err
	}
	best := -1
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil && e.IsDir() && n > best {
			best = n
		}
	}
	if best < 0 {
		return "", fs.ErrNotExist
	}
	return filepath.Join(runs, strconv.Itoa(best)), nil
}

func (a *Agent) readSandbox(req wire.SandboxRead) (wire.SandboxData, error) {
	dir, err := a.latestRun(req.FrameworkID, req.TaskID)
	if err != nil {
		return wire.SandboxData{}, err
	}
	out := wire.SandboxData{Sandbox: dir}
	if req.Path == "" {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(dir, p)
			if strings.HasPrefix(filepath.Base(rel), ".agora") {
				return nil
			}
			info, err := d.Info()
			if err == nil {
				out.Files = append(out.Files, wire.SandboxFile{Path: rel, Size: info.Size()})
			}
			return nil
		})
		sort.Slice(out.Files, func(i, j int) bool { return out.Files[i].Path < out.Files[j].Path })
		return out, err
	}
	clean := filepath.Clean("/" + req.Path)[1:]
	if clean == "" || clean != req.Path {
		return out, errors.New("path must be relative and stay inside the sandbox")
	}
	f, err := os.Open(filepath.Join(dir, clean))
	if err != nil {
		return out, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		return out, errors.New("not a regular file")
	}
	out.Size = st.Size()
	off := req.Offset
	if off < 0 {
		off = max(0, out.Size+off)
	}
	off = min(off, out.Size)
	n := req.Length
	if n <= 0 || n > maxSandboxRead {
		n = maxSandboxRead
	}
	buf := make([]byte, min(n, out.Size-off))
	k, err := f.ReadAt(buf, off)
	if err != nil && err != io.EOF {
		return out, err
	}
	out.Offset, out.Data = off, buf[:k]
	return out, nil
}
