package batch

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/agora-cluster/agora/framework/batch/record"
)

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

func ago(t time.Time, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	if d < 0 {
		return "in " + short(-d)
	}
	return short(d) + " ago"
}

func short(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

func duration(r record.Run, now time.Time) string {
	if r.State == record.RunMissed || r.State == record.RunSkipped {
		return "-"
	}
	end := r.Finished
	if end.IsZero() {
		end = now
	}
	return short(end.Sub(r.Created))
}

func trigger(j record.Job) string {
	switch {
	case j.Spec.Schedule != nil:
		s := j.Spec.Schedule
		return fmt.Sprintf("cron %q %s", s.Cron, s.Timezone)
	case len(j.Spec.DependsOn) > 0:
		return "after " + strings.Join(j.Spec.DependsOn, ",")
	}
	return "manual"
}

func counts(p record.Progress) string {
	return fmt.Sprintf("%d/%d ok, %d failed, %d running, %d attempts", p.Succeeded, p.Instances, p.Failed, p.Running, p.Attempts)
}

func printStatus(w io.Writer, jobs []record.JobStatus, now time.Time) error {
	tw := table(w)
	fmt.Fprintln(tw, "JOB\tSTARTED BY\tACTIVE\tLAST RUN\tNEXT")
	for _, js := range jobs {
		last := "-"
		if lr := js.Job.LastRun; lr != nil {
			last = fmt.Sprintf("%d %s", lr.ID, lr.State)
		}
		next := "-"
		if !js.NextScheduled.IsZero() {
			next = js.NextScheduled.Format(time.RFC3339) + " (" + ago(js.NextScheduled, now) + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", js.Job.Spec.Name, trigger(js.Job), len(js.Active), last, next)
	}
	return tw.Flush()
}

func printJob(w io.Writer, js record.JobStatus, now time.Time) error {
	j := js.Job
	s := j.Spec
	fmt.Fprintf(w, "Job:          %s (version %d)\n", s.Name, j.Version)
	if s.Command != "" {
		fmt.Fprintf(w, "Command:      %s\n", s.Command)
	} else {
		fmt.Fprintf(w, "Args:         %q\n", s.Args)
	}
	fmt.Fprintf(w, "Instances:    %d (parallelism %d)\n", s.Instances, s.Parallelism)
	fmt.Fprintf(w, "Resources:    cpus %g, mem %g MB, disk %g MB, ports %d\n", s.Resources.CPUs, s.Resources.MemMB, s.Resources.DiskMB, s.Resources.Ports)
	fmt.Fprintf(w, "Retries:      %d (backoff %s, at most %s)\n", s.Retries.Limit, s.Retries.Backoff, s.Retries.MaxBackoff)
	if s.Timeout.Task > 0 || s.Timeout.Run > 0 {
		fmt.Fprintf(w, "Timeouts:     task %s, run %s\n", orNone(s.Timeout.Task.D()), orNone(s.Timeout.Run.D()))
	}
	fmt.Fprintf(w, "Started by:   %s\n", trigger(j))
	if sc := s.Schedule; sc != nil {
		fmt.Fprintf(w, "Policy:       %s, starting deadline %s\n", sc.ConcurrencyPolicy, sc.StartingDeadline)
		fmt.Fprintf(w, "Next:         %s (%s)\n", js.NextScheduled.Format(time.RFC3339), ago(js.NextScheduled, now))
	}
	if len(js.Children) > 0 {
		fmt.Fprintf(w, "Children:     %s\n", strings.Join(js.Children, ", "))
	}
	if lr := j.LastRun; lr != nil {
		fmt.Fprintf(w, "Last run:     %d %s\n", lr.ID, lr.State)
	}
	if len(js.Active) == 0 {
		fmt.Fprintln(w, "Active runs:  none")
		return nil
	}
	fmt.Fprintln(w, "Active runs:")
	for _, rs := range js.Active {
		fmt.Fprintf(w, "  %d %s (%s, %s): %s\n", rs.Run.ID, rs.Run.State, rs.Run.Trigger, short(now.Sub(rs.Run.Created)), counts(rs.Progress))
	}
	return nil
}

func orNone(d time.Duration) string {
	if d == 0 {
		return "none"
	}
	return d.String()
}

func printHistory(w io.Writer, runs []record.RunStatus, now time.Time) error {
	tw := table(w)
	fmt.Fprintln(tw, "RUN\tTRIGGER\tSTATE\tCREATED\tDURATION\tOK\tFAILED\tATTEMPTS\tMESSAGE")
	for _, rs := range runs {
		r, p := rs.Run, rs.Progress
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d/%d\t%d\t%d\t%s\n", r.ID, r.Trigger, r.State,
			r.Created.Local().Format("2006-01-02 15:04:05"), duration(r, now), p.Succeeded, p.Instances, p.Failed, p.Attempts, r.Message)
	}
	return tw.Flush()
}
