package batch

import (
	"fmt"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/agora-cluster/agora/sdk/cliargs"
)

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "show all jobs, or one job with its active runs; with --run, one run",
		ArgsUsage: "[JOB]",
		Flags: clientFlags(
			&cli.Uint64Flag{Name: "run", Usage: "show this run (with its attempts in JSON)"},
		),
		Action: cliargs.Interspersed(func(c *cli.Context) error {
			asJSON, err := jsonOutput(c)
			if err != nil {
				return err
			}
			cl, out, now := client(c), c.App.Writer, time.Now()
			if id := c.Uint64("run"); id > 0 {
				rs, err := cl.Run(c.Context, id, asJSON, 0)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(out, rs)
				}
				r := rs.Run
				fmt.Fprintf(out, "Run %d of %s: %s (%s", r.ID, r.Job, r.State, r.Trigger)
				if r.Cause != "" {
					fmt.Fprintf(out, ", %s", r.Cause)
				}
				fmt.Fprintf(out, "), %s\n  %s\n", duration(r, now), counts(rs.Progress))
				if r.Message != "" {
					fmt.Fprintf(out, "  %s\n", r.Message)
				}
				return nil
			}
			if c.NArg() == 0 {
				jobs, err := cl.Jobs(c.Context)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(out, jobs)
				}
				if len(jobs) == 0 {
					fmt.Fprintln(out, "no jobs")
					return nil
				}
				return printStatus(out, jobs, now)
			}
			js, err := cl.Job(c.Context, c.Args().First())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(out, js)
			}
			return printJob(out, js, now)
		}),
	}
}

func historyCommand() *cli.Command {
	return &cli.Command{
		Name:      "history",
		Usage:     "list a job's runs, newest first (including MISSED and SKIPPED scheduled starts)",
		ArgsUsage: "JOB",
		Flags: clientFlags(
			&cli.IntFlag{Name: "limit", Value: 20, Usage: "how many runs"},
			&cli.StringFlag{Name: "before", Usage: "only runs older than this run ID"},
		),
		Action: cliargs.Interspersed(func(c *cli.Context) error {
			asJSON, err := jsonOutput(c)
			if err != nil {
				return err
			}
			if c.NArg() != 1 {
				return fmt.Errorf("usage: agora batch history JOB")
			}
			var before uint64
			if b := c.String("before"); b != "" {
				if before, err = strconv.ParseUint(b, 10, 64); err != nil {
					return fmt.Errorf("--before: %q is not a run ID", b)
				}
			}
			runs, err := client(c).History(c.Context, c.Args().First(), c.Int("limit"), before)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(c.App.Writer, runs)
			}
			if len(runs) == 0 {
				fmt.Fprintln(c.App.Writer, "no runs")
				return nil
			}
			return printHistory(c.App.Writer, runs, time.Now())
		}),
	}
}

func killCommand() *cli.Command {
	return &cli.Command{
		Name:      "kill",
		Usage:     "kill a job's active runs (or one run with --run)",
		ArgsUsage: "JOB",
		Flags:     clientFlags(&cli.Uint64Flag{Name: "run", Usage: "kill only this run"}),
		Action: cliargs.Interspersed(func(c *cli.Context) error {
			asJSON, err := jsonOutput(c)
			if err != nil {
				return err
			}
			cl := client(c)
			var ids []uint64
			if id := c.Uint64("run"); id > 0 {
				if err := cl.KillRun(c.Context, id); err != nil {
					return err
				}
				ids = []uint64{id}
			} else {
				if c.NArg() != 1 {
					return fmt.Errorf("usage: agora batch kill JOB")
				}
				if ids, err = cl.Kill(c.Context, c.Args().First()); err != nil {
					return err
				}
			}
			if asJSON {
				return printJSON(c.App.Writer, map[string][]uint64{"killed": ids})
			}
			if len(ids) == 0 {
				fmt.Fprintln(c.App.Writer, "no active runs")
			}
			for _, id := range ids {
				fmt.Fprintf(c.App.Writer, "run %d killed\n", id)
			}
			return nil
		}),
	}
}

func rmCommand() *cli.Command {
	return &cli.Command{
		Name:      "rm",
		Usage:     "remove a job and its history",
		ArgsUsage: "JOB",
		Flags:     clientFlags(&cli.BoolFlag{Name: "force", Usage: "kill its active runs first"}),
		Action: cliargs.Interspersed(func(c *cli.Context) error {
			asJSON, err := jsonOutput(c)
			if err != nil {
				return err
			}
			if c.NArg() != 1 {
				return fmt.Errorf("usage: agora batch rm JOB")
			}
			name := c.Args().First()
			if err := client(c).Remove(c.Context, name, c.Bool("force")); err != nil {
				return err
			}
			if asJSON {
				return printJSON(c.App.Writer, map[string]string{"removed": name})
			}
			fmt.Fprintf(c.App.Writer, "job %s removed\n", name)
			return nil
		}),
	}
}
