package batch

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/agora-cluster/agora/framework/batch/api"
	"github.com/agora-cluster/agora/framework/batch/engine"
	"github.com/agora-cluster/agora/sdk/cliargs"
)

func logsCommand() *cli.Command {
	return &cli.Command{
		Name:      "logs",
		Usage:     "print a task's output from its agent sandbox",
		ArgsUsage: "JOB",
		Flags: clientFlags(
			&cli.IntFlag{Name: "task", Usage: "the task (instance) number"},
			&cli.Uint64Flag{Name: "run", Usage: "the run (default: the job's newest)"},
			&cli.IntFlag{Name: "attempt", Usage: "the attempt (default: the latest)"},
			&cli.BoolFlag{Name: "stderr", Usage: "stderr instead of stdout"},
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing output until the task ends; wait for a task not launched yet (until its run ends)"},
			&cli.Int64Flag{Name: "tail", Usage: "start this many bytes before the end"},
		),
		Action: cliargs.Interspersed(func(c *cli.Context) error {
			asJSON, err := jsonOutput(c)
			if err != nil {
				return err
			}
			if c.NArg() != 1 {
				return fmt.Errorf("usage: agora batch logs JOB [--task N]")
			}
			q := api.LogsQuery{Run: c.Uint64("run"), Task: c.Int("task"), Attempt: c.Int("attempt"), Stderr: c.Bool("stderr")}
			if t := c.Int64("tail"); t > 0 {
				q.Offset = -t
			}
			return streamLogs(c.Context, client(c), c.Args().First(), q, c.Bool("follow"), asJSON, c.App.Writer, c.App.ErrWriter)
		}),
	}
}

// logLine is one chunk in JSON output.
type logLine struct {
	TaskID string `json:"task_id"`
	Run    uint64 `json:"run"`
	Offset int64  `json:"offset"`
	// Data is base64, as output need not be text.
	Data string `json:"data"`
	Done bool   `json:"done"`
}

// logsPoll is how often following asks for more output.
const logsPoll = 500 * time.Millisecond

// streamLogs prints a task's output. With follow it polls until the
// attempt ends; a task not launched yet (or a job that has not run yet)
// is waited for while its run may still launch it, with a note on
// errOut, until the run ends or ctx is cancelled.
func streamLogs(ctx context.Context, cl *api.Client, job string, q api.LogsQuery, follow, asJSON bool, out, errOut io.Writer) error {
	waiting, lastTry := false, false
	for {
		ch, err := cl.Logs(ctx, job, q)
		if err != nil {
			if !follow || lastTry || !errors.Is(err, engine.ErrNotFound) {
				return err
			}
			may, why, serr := mayLaunch(ctx, cl, job, &q)
			switch {
			case serr != nil:
				return serr
			case !may:
				// The run ended: one more look, in case the task ran
				// between the two questions.
				lastTry = true
				continue
			case !waiting:
				waiting = true
				fmt.Fprintf(errOut, "waiting for task %d of %s: %s\n", q.Task, job, why)
			}
			if err := sleepCtx(ctx, logsPoll); err != nil {
				return err
			}
			continue
		}
		// Pin the run and attempt after the first answer, so following
		// does not jump to a newer one.
		q.Run, q.Attempt = ch.Run, ch.Attempt
		if len(ch.Data) > 0 || asJSON && !follow {
			if asJSON {
				off := ch.NextOffset - int64(len(ch.Data))
				if err := printJSON(out, logLine{TaskID: ch.TaskID, Run: ch.Run, Offset: off, Data: base64.StdEncoding.EncodeToString(ch.Data), Done: ch.Done}); err != nil {
					return err
				}
			} else if _, err := out.Write(ch.Data); err != nil {
				return err
			}
		}
		q.Offset = ch.NextOffset
		if ch.NextOffset < ch.Size {
			continue // more is there already
		}
		if !follow || ch.Done {
			return nil
		}
		if err := sleepCtx(ctx, logsPoll); err != nil {
			return err
		}
	}
}

// mayLaunch tells whether the task of q can still get an attempt: the
// job has not run yet, or q's run (pinned to the job's newest when q has
// none) is active and has the instance. why says what is awaited.
func mayLaunch(ctx context.Context, cl *api.Client, job string, q *api.LogsQuery) (bool, string, error) {
	if q.Run == 0 {
		js, err := cl.Job(ctx, job)
		if err != nil {
			return false, "", err
		}
		if js.Job.LastRun == nil {
			return true, "the job has not run yet", nil
		}
		q.Run = js.Job.LastRun.ID
	}
	rs, err := cl.Run(ctx, q.Run, false, 0)
	if err != nil {
		return false, "", err
	}
	if rs.Run.State.Terminal() || q.Task >= rs.Progress.Instances {
		return false, "", nil
	}
	return true, fmt.Sprintf("not launched yet in run %d", q.Run), nil
}

// sleepCtx waits d, or returns ctx's error if it ends first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
