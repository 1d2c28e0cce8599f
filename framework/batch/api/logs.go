package api

import (
	"net/http"
	"strconv"

	"github.com/agora-cluster/agora/framework/batch/record"
	"github.com/agora-cluster/agora/framework/batch/sandbox"
)

// Headers of a logs answer.
const (
	HeaderTaskID     = "X-Batch-Task-Id"
	HeaderRun        = "X-Batch-Run"
	HeaderAttempt    = "X-Batch-Attempt"
	HeaderNextOffset = "X-Batch-Next-Offset"
	HeaderSize       = "X-Batch-Size"
	// HeaderDone is "true" once the attempt is over: no more output comes.
	HeaderDone = "X-Batch-Done"
)

// logs answers with a chunk of one attempt's output. Without run, the
// job's newest run is used; without attempt, the instance's latest.
func (s *Server) logs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	job := r.PathValue("job")
	ctx := r.Context()
	runID, err := strconv.ParseUint(orZero(q.Get("run")), 10, 64)
	if err != nil {
		s.fail(w, badRequest("run: %q is not a run ID", q.Get("run")))
		return
	}
	instance, err := intParam(q.Get("task"), 0)
	if err != nil {
		s.fail(w, badRequest("task: %v", err))
		return
	}
	attemptN, err := intParam(q.Get("attempt"), 0)
	if err != nil {
		s.fail(w, badRequest("attempt: %v", err))
		return
	}
	stream := sandbox.Stream(q.Get("stream"))
	if stream == "" {
		stream = sandbox.Stdout
	}
	if stream != sandbox.Stdout && stream != sandbox.Stderr {
		s.fail(w, badRequest("stream: want stdout or stderr, not %q", stream))
		return
	}
	offset, err := strconv.ParseInt(orZero(q.Get("offset")), 10, 64)
	if err != nil {
		s.fail(w, badRequest("offset: %q is not a number", q.Get("offset")))
		return
	}
	limit, err := intParam(q.Get("limit"), 64<<10)
	if err != nil {
		s.fail(w, badRequest("limit: %v", err))
		return
	}
	limit = min(max(limit, 1), MaxLogChunk)
	if runID == 0 {
		st, err := s.Engine.Job(job)
		if err != nil {
			s.fail(w, err)
			return
		}
		if st.Job.LastRun == nil {
			s.fail(w, &Error{Status: 404, Code: CodeNotFound, Message: "job " + job + " has not run yet"})
			return
		}
		runID = st.Job.LastRun.ID
	}
	rs, err := s.Engine.RunStatus(ctx, runID, true)
	if err != nil {
		s.fail(w, err)
		return
	}
	if rs.Run.Job != job {
		s.fail(w, &Error{Status: 404, Code: CodeNotFound, Message: "run " + strconv.FormatUint(runID, 10) + " is not a run of " + job})
		return
	}
	var att *record.Attempt
	for i := range rs.Attempts {
		a := &rs.Attempts[i]
		if a.Instance == instance && (attemptN == 0 || a.N == attemptN) {
			att = a // the last match is the latest attempt
		}
	}
	if att == nil {
		s.fail(w, &Error{Status: 404, Code: CodeNotFound, Message: "no such attempt of task " + strconv.Itoa(instance) + " in run " + strconv.FormatUint(runID, 10) + " (not launched yet?)"})
		return
	}
	loc := sandbox.Location{FrameworkID: s.Info.FrameworkID, AgentID: att.AgentID, Hostname: att.Hostname, TaskID: att.TaskID}
	data, size, err := s.Sandboxes.Read(ctx, loc, stream, offset, limit)
	if err != nil {
		if att.State == record.AttemptLaunching || att.State == record.AttemptStaging {
			// Not started yet: no output so far.
			data, size, err = nil, 0, nil
		} else {
			s.fail(w, err)
			return
		}
	}
	next := offset
	if offset < 0 {
		next = max(0, size+offset)
	}
	next += int64(len(data))
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set(HeaderTaskID, string(att.TaskID))
	h.Set(HeaderRun, strconv.FormatUint(runID, 10))
	h.Set(HeaderAttempt, strconv.Itoa(att.N))
	h.Set(HeaderNextOffset, strconv.FormatInt(next, 10))
	h.Set(HeaderSize, strconv.FormatInt(size, 10))
	h.Set(HeaderDone, strconv.FormatBool(att.State.Terminal()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}
