package record

import "time"

// Progress counts a run's instances by where they are.
type Progress struct {
	Instances int `json:"instances"`
	// Waiting instances have no task now: not yet launched, or waiting to
	// be retried.
	Waiting   int `json:"waiting"`
	Running   int `json:"running"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	// Cancelled instances never finished because the run stopped.
	Cancelled int `json:"cancelled"`
	// Retried counts attempts beyond each instance's first.
	Retried  int `json:"retried"`
	Attempts int `json:"attempts"`
}

// Done reports how many instances are finished one way or another.
func (p Progress) Done() int { return p.Succeeded + p.Failed + p.Cancelled }

// RunStatus is a run with its progress and, when asked for, its attempts.
type RunStatus struct {
	Run      Run       `json:"run"`
	Progress Progress  `json:"progress"`
	Attempts []Attempt `json:"attempts,omitempty"`
}

// JobStatus is a job with its active runs and what comes next.
type JobStatus struct {
	Job    Job         `json:"job"`
	Active []RunStatus `json:"active,omitempty"`
	// NextScheduled is the next cron time, for scheduled jobs.
	NextScheduled time.Time `json:"next_scheduled,omitzero"`
	// Children are the jobs that depend on this one.
	Children []string `json:"children,omitempty"`
}

// SubmitResult answers a submission.
type SubmitResult struct {
	Jobs []SubmittedJob `json:"jobs"`
	// Runs are the runs the submission started.
	Runs []RunRef `json:"runs,omitempty"`
}

// SubmittedJob is one job of a submission.
type SubmittedJob struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
	Created bool   `json:"created"`
}

// ProgressOf returns a finished run's final progress.
func ProgressOf(r Run) Progress {
	if r.Summary != nil {
		return *r.Summary
	}
	return Progress{}
}
