package batch

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/agora-cluster/agora/framework/batch/api"
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
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing output until the task ends"},
			&cli.Int64Flag{Name: "tail", Usage: "start this many bytes before the end"},
		),
		Action: interspersed(func(c *cli.Context) error {
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
			return streamLogs(c.Context, client(c), c.Args().First(), q, c.Bool("follow"), asJSON, c.App.Writer)
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

func streamLogs(ctx context.Context, cl *api.Client, job string, q api.LogsQuery, follow, asJSON bool, out io.Writer) error {
	for {
		ch, err := cl.Logs(ctx, job, q)
		if err != nil {
			return err
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
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
