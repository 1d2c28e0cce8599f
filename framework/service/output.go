package service

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/agora-cluster/agora/framework/service/controller"
)

func statusAction(c *cli.Context) error {
	pos, err := positional(c)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return fmt.Errorf("usage: agora service status [APP]")
	}
	cl, js, err := client(c)
	if err != nil {
		return err
	}
	w := c.App.Writer
	if len(pos) == 0 {
		apps, err := cl.Apps(c.Context)
		if err != nil {
			return err
		}
		if js {
			return printJSON(w, apps)
		}
		printApps(w, apps)
		return nil
	}
	st, err := cl.App(c.Context, pos[0])
	if err != nil {
		return err
	}
	if js {
		return printJSON(w, st)
	}
	printApp(w, st)
	return nil
}

func deploymentState(d *controller.Deployment) string {
	if d == nil {
		return "-"
	}
	s := string(d.State)
	if d.Stalled {
		s += " (stalled)"
	}
	return s
}

func printApps(w io.Writer, apps []controller.AppStatus) {
	t := newTable(w)
	fmt.Fprintln(t, "APP\tVERSION\tINSTANCES\tRUNNING\tHEALTHY\tDEPLOYMENT")
	for _, a := range apps {
		inst := fmt.Sprintf("%d", a.Instances)
		if a.Deleting {
			inst = "removing"
		}
		fmt.Fprintf(t, "%s\t%d\t%s\t%d\t%d\t%s\n", a.ID, a.Version, inst, a.Running, a.Healthy, deploymentState(a.Deployment))
	}
	_ = t.Flush()
}

func printApp(w io.Writer, a controller.AppStatus) {
	fmt.Fprintf(w, "app:        %s\n", a.ID)
	fmt.Fprintf(w, "version:    %d (config %d, last good %d)\n", a.Version, a.Config, a.Stable)
	fmt.Fprintf(w, "instances:  %d wanted, %d staged, %d running, %d healthy\n", a.Instances, a.Staged, a.Running, a.Healthy)
	if a.Deleting {
		fmt.Fprintln(w, "state:      removing")
	}
	if a.Backoff != nil {
		fmt.Fprintf(w, "backoff:    %d failure(s) in a row; next launch not before %s\n", a.Backoff.Failures, a.Backoff.Until.Local().Format(time.TimeOnly))
	}
	if a.Waiting != "" {
		fmt.Fprintf(w, "waiting:    %s\n", a.Waiting)
	}
	if d := a.Deployment; d != nil {
		fmt.Fprintf(w, "deployment: %s %s %s (version %d -> %d)\n", d.ID, d.Kind, deploymentState(d), d.FromVersion, d.ToVersion)
		if d.Message != "" {
			fmt.Fprintf(w, "            %s\n", d.Message)
		}
	}
	fmt.Fprintln(w)
	t := newTable(w)
	fmt.Fprintln(t, "INSTANCE\tHOST\tPORTS\tSTATE\tHEALTH\tCONFIG\tSTARTED")
	for _, i := range a.Tasks {
		state := strings.TrimPrefix(string(i.State), "TASK_")
		switch {
		case i.Killing:
			state += " (killing)"
		case i.Inactive:
			state += " (inactive)"
		}
		health := string(i.Health)
		if !i.HasChecks {
			health = "-"
		} else if health == "" {
			health = "unknown"
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", i.ID, i.Hostname, ports(i.Ports), state, health, i.Config, age(i.LaunchedAt))
	}
	_ = t.Flush()
	if len(a.Ended) > 0 {
		fmt.Fprintln(w, "\nrecently ended:")
		for _, i := range a.Ended {
			fmt.Fprintf(w, "  %s on %s: %s %s\n", i.ID, i.Hostname, strings.TrimPrefix(string(i.State), "TASK_"), i.Message)
		}
	}
}

func ports(ps []uint64) string {
	if len(ps) == 0 {
		return "-"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, ",")
}

func age(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return time.Since(t).Round(time.Second).String() + " ago"
}

func versionsAction(c *cli.Context) error {
	a, err := args(c, 1, "APP")
	if err != nil {
		return err
	}
	cl, js, err := client(c)
	if err != nil {
		return err
	}
	vs, err := cl.Versions(c.Context, a[0])
	if err != nil {
		return err
	}
	if js {
		return printJSON(c.App.Writer, vs)
	}
	t := newTable(c.App.Writer)
	fmt.Fprintln(t, "VERSION\tCONFIG\tINSTANCES\tCREATED\tCAUSE")
	for _, v := range vs {
		fmt.Fprintf(t, "%d\t%d\t%d\t%s\t%s\n", v.Version, v.Config, v.Spec.Instances, v.Created.Local().Format(time.DateTime), v.Cause)
	}
	return t.Flush()
}

func endpointsAction(c *cli.Context) error {
	a, err := args(c, 1, "APP")
	if err != nil {
		return err
	}
	cl, js, err := client(c)
	if err != nil {
		return err
	}
	eps, err := cl.Endpoints(c.Context, a[0])
	if err != nil {
		return err
	}
	if js {
		return printJSON(c.App.Writer, eps)
	}
	for _, e := range eps {
		addr := e.Address
		if addr == "" {
			addr = e.Host
		}
		fmt.Fprintln(c.App.Writer, addr)
	}
	return nil
}
