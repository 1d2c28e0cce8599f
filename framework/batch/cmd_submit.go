package batch

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/agora-cluster/agora/framework/batch/api"
	"github.com/agora-cluster/agora/framework/batch/record"
	"github.com/agora-cluster/agora/framework/batch/spec"
	"github.com/agora-cluster/agora/sdk/cliargs"
)

func submitCommand() *cli.Command {
	return &cli.Command{
		Name:      "submit",
		Usage:     "submit (create or update) the jobs in a YAML or JSON file; jobs without a schedule or parents start at once",
		ArgsUsage: "FILE (- for stdin)",
		Flags: clientFlags(
			&cli.BoolFlag{Name: "wait", Usage: "show progress until the started runs (and their DAG children in the file) end; exit non-zero if one failed"},
			&cli.BoolFlag{Name: "no-run", Usage: "only store the jobs"},
			&cli.DurationFlag{Name: "timeout", Usage: "give up waiting after this long (0: never)"},
		),
		Action: cliargs.Interspersed(func(c *cli.Context) error {
			asJSON, err := jsonOutput(c)
			if err != nil {
				return err
			}
			if c.NArg() != 1 {
				return fmt.Errorf("usage: agora batch submit FILE")
			}
			name := c.Args().First()
			var data []byte
			if name == "-" {
				data, err = io.ReadAll(io.LimitReader(os.Stdin, spec.MaxFileSize+1))
			} else {
				data, err = os.ReadFile(name)
			}
			if err != nil {
				return err
			}
			// Check locally first for quick, precise errors; the server
			// checks again (and knows the other jobs).
			jobs, err := spec.Parse(data, spec.FormatOf(name))
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			cl := client(c)
			ctx := c.Context
			res, err := cl.Submit(ctx, data, spec.FormatOf(name), c.Bool("no-run"))
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			out := c.App.Writer
			if !asJSON {
				started := map[string]uint64{}
				for _, r := range res.Runs {
					if st, err := cl.Run(ctx, r.ID, false, 0); err == nil {
						started[st.Run.Job] = r.ID
					}
				}
				for _, j := range res.Jobs {
					verb := "updated"
					if j.Created {
						verb = "created"
					}
					line := fmt.Sprintf("job %s %s (version %d)", j.Name, verb, j.Version)
					if id, ok := started[j.Name]; ok {
						line += fmt.Sprintf("; run %d started", id)
					}
					fmt.Fprintln(out, line)
				}
			}
			if !c.Bool("wait") {
				if asJSON {
					return printJSON(out, res)
				}
				return nil
			}
			var children []string
			for _, j := range jobs {
				if len(j.DependsOn) > 0 {
					children = append(children, j.Name)
				}
			}
			return waitAndReport(c, res.Runs, children, asJSON)
		}),
	}
}

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "start a run of a job now",
		ArgsUsage: "JOB",
		Flags: clientFlags(
			&cli.BoolFlag{Name: "wait", Usage: "show progress until the run ends; exit non-zero if it failed"},
			&cli.DurationFlag{Name: "timeout", Usage: "give up waiting after this long (0: never)"},
		),
		Action: cliargs.Interspersed(func(c *cli.Context) error {
			asJSON, err := jsonOutput(c)
			if err != nil {
				return err
			}
			if c.NArg() != 1 {
				return fmt.Errorf("usage: agora batch run JOB")
			}
			ref, err := client(c).Trigger(c.Context, c.Args().First())
			if err != nil {
				return err
			}
			if !c.Bool("wait") {
				if asJSON {
					return printJSON(c.App.Writer, ref)
				}
				fmt.Fprintf(c.App.Writer, "run %d of %s started\n", ref.ID, c.Args().First())
				return nil
			}
			return waitAndReport(c, []record.RunRef{ref}, nil, asJSON)
		}),
	}
}

// waitResult is what submit --wait reports.
type waitResult struct {
	Runs []record.RunStatus `json:"runs"`
	// NotStarted are DAG children that never started because a parent
	// failed.
	NotStarted []string `json:"not_started,omitempty"`
	Succeeded  bool     `json:"succeeded"`
}

func waitAndReport(c *cli.Context, runs []record.RunRef, children []string, asJSON bool) error {
	ctx := c.Context
	if t := c.Duration("timeout"); t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	bar := newProgressBar(c.App.ErrWriter)
	res, err := waitRuns(ctx, client(c), runs, children, bar)
	bar.done()
	if err != nil {
		return err
	}
	if asJSON {
		if err := printJSON(c.App.Writer, res); err != nil {
			return err
		}
	} else {
		for _, rs := range res.Runs {
			fmt.Fprintf(c.App.Writer, "run %d (%s): %s in %s: %s", rs.Run.ID, rs.Run.Job, rs.Run.State,
				short(rs.Run.Finished.Sub(rs.Run.Created)), counts(rs.Progress))
			if rs.Run.Message != "" {
				fmt.Fprintf(c.App.Writer, " — %s", rs.Run.Message)
			}
			fmt.Fprintln(c.App.Writer)
		}
		for _, j := range res.NotStarted {
			fmt.Fprintf(c.App.Writer, "job %s: not started (a parent failed)\n", j)
		}
	}
	if !res.Succeeded {
		var bad []string
		for _, rs := range res.Runs {
			if rs.Run.State != record.RunSucceeded {
				bad = append(bad, fmt.Sprintf("run %d (%s) %s", rs.Run.ID, rs.Run.Job, rs.Run.State))
			}
		}
		for _, j := range res.NotStarted {
			bad = append(bad, "job "+j+" not started")
		}
		return fmt.Errorf("%w: %s", ErrRunFailed, strings.Join(bad, "; "))
	}
	return nil
}

// waitRuns follows runs until they end, drawing progress. Jobs named in
// children (DAG children of the submission) are followed too once their
// run starts, or reported as not started when a parent's run failed.
func waitRuns(ctx context.Context, cl *api.Client, runs []record.RunRef, children []string, bar *progressBar) (waitResult, error) {
	start := time.Now()
	var baseline uint64
	status := map[uint64]record.RunStatus{}
	jobOfRun := map[uint64]string{}
	awaited := map[string]bool{}
	var order []uint64
	for _, r := range runs {
		st, err := cl.Run(ctx, r.ID, false, 0)
		if err != nil {
			return waitResult{}, err
		}
		order = append(order, r.ID)
		baseline = max(baseline, r.ID)
		jobOfRun[r.ID] = st.Run.Job
		awaited[st.Run.Job] = true
	}
	// Children are awaited if a parent is (their run starts after it).
	parentsOf := map[string][]string{}
	for _, name := range children {
		js, err := cl.Job(ctx, name)
		if err != nil {
			return waitResult{}, err
		}
		parentsOf[name] = js.Job.Spec.DependsOn
	}
	pending := map[string][]string{} // child → parents
	for grew := true; grew; {
		grew = false
		for name, parents := range parentsOf {
			if awaited[name] {
				continue
			}
			for _, p := range parents {
				if awaited[p] {
					awaited[name], pending[name], grew = true, parents, true
					break
				}
			}
		}
	}
	failedJobs := map[string]bool{}
	var notStarted []string
	for {
		// Follow the runs; the first request waits for a change.
		waited := false
		for _, id := range order {
			if st, ok := status[id]; ok && st.Run.State.Terminal() {
				continue
			}
			var wait time.Duration
			if !waited {
				wait, waited = time.Second, true
			}
			st, err := cl.Run(ctx, id, false, wait)
			if err != nil {
				return waitResult{}, err
			}
			jobOfRun[id] = st.Run.Job
			prev, seen := status[id]
			status[id] = st
			if st.Run.State.Terminal() && (!seen || !prev.Run.State.Terminal()) {
				bar.println("run %d (%s) %s: %s", id, st.Run.Job, st.Run.State, counts(st.Progress))
				if st.Run.State != record.RunSucceeded {
					failedJobs[st.Run.Job] = true
				}
			}
		}
		// Children: started, or never will be.
		for _, name := range sortedKeys(pending) {
			parents := pending[name]
			blocked := false
			for _, p := range parents {
				blocked = blocked || failedJobs[p]
			}
			if blocked {
				delete(pending, name)
				failedJobs[name] = true
				notStarted = append(notStarted, name)
				bar.println("job %s will not start: a parent failed", name)
				continue
			}
			js, err := cl.Job(ctx, name)
			if err != nil {
				return waitResult{}, err
			}
			if lr := js.Job.LastRun; lr != nil && lr.ID > baseline {
				delete(pending, name)
				order = append(order, lr.ID)
				bar.println("run %d (%s) started", lr.ID, name)
			}
		}
		var total record.Progress
		done := len(pending) == 0
		for _, id := range order {
			st, ok := status[id]
			if !ok || !st.Run.State.Terminal() {
				done = false
			}
			p := st.Progress
			total.Instances += p.Instances
			total.Succeeded += p.Succeeded
			total.Failed += p.Failed
			total.Cancelled += p.Cancelled
			total.Running += p.Running
			total.Retried += p.Retried
		}
		label := fmt.Sprintf("%d runs", len(order))
		if len(order) == 1 {
			label = fmt.Sprintf("run %d (%s)", order[0], jobOfRun[order[0]])
		}
		bar.update(label, total, time.Since(start))
		if done {
			res := waitResult{NotStarted: notStarted, Succeeded: len(notStarted) == 0}
			for _, id := range order {
				st := status[id]
				res.Runs = append(res.Runs, st)
				res.Succeeded = res.Succeeded && st.Run.State == record.RunSucceeded
			}
			return res, nil
		}
		if !waited {
			// Only children left to look for: do not spin.
			select {
			case <-ctx.Done():
				return waitResult{}, ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
		}
		if err := ctx.Err(); err != nil {
			return waitResult{}, err
		}
	}
}

func sortedKeys(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
