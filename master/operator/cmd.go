package operator

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/agora-cluster/agora/master"
	"github.com/agora-cluster/agora/sdk/cliargs"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Command is `agora cluster`.
func Command() *cli.Command {
	return &cli.Command{
		Name:  "cluster",
		Usage: "inspect and operate a running cluster",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "masters", EnvVars: []string{"AGORA_MASTERS"}, Value: "127.0.0.1:5050", Usage: "master HTTP addresses, comma separated (any member works)"},
			&cli.StringFlag{Name: "token", EnvVars: []string{"AGORA_TOKEN"}, Usage: "operator token for calls that change state"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "table", Usage: "table or json"},
		},
		Subcommands: []*cli.Command{
			{Name: "status", Usage: "leader, members, agents, frameworks and resource totals", Action: run(status)},
			{Name: "agents", Usage: "list agents", Action: run(agents)},
			{Name: "frameworks", Usage: "list frameworks with their offer statistics", Action: run(frameworks)},
			{Name: "tasks", Usage: "list tasks", Flags: []cli.Flag{
				&cli.StringFlag{Name: "framework"}, &cli.StringFlag{Name: "agent"}, &cli.StringFlag{Name: "state"},
				&cli.IntFlag{Name: "limit", Value: 100}, &cli.IntFlag{Name: "offset"},
			}, Action: run(tasks)},
			{Name: "members", Usage: "list the masters and their raft state", Action: run(members)},
			{Name: "drain", Usage: "stop offering an agent and kill its tasks after a grace period", ArgsUsage: "AGENT",
				Flags: []cli.Flag{&cli.DurationFlag{Name: "grace", Value: 30 * time.Second}}, Action: run(drain)},
			{Name: "reactivate", Usage: "offer a drained agent again", ArgsUsage: "AGENT", Action: run(reactivate)},
			{Name: "role", Usage: "roles, weights and quotas", Subcommands: []*cli.Command{
				{Name: "set", ArgsUsage: "ROLE", Usage: "set a role's weight and quota", Flags: []cli.Flag{
					&cli.Float64Flag{Name: "weight", Value: 1}, &cli.StringFlag{Name: "quota", Usage: `e.g. "cpus:10;mem:4096"`},
				}, Action: cliargs.Interspersed(run(roleSet))},
				{Name: "list", Usage: "list roles", Action: run(roleList)},
			}},
		},
	}
}

type env struct {
	c    *cli.Context
	api  *Client
	ctx  context.Context
	json bool
	out  io.Writer
}

func run(f func(env) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		o := c.String("output")
		if o != "table" && o != "json" {
			return fmt.Errorf("--output %q: want table or json", o)
		}
		api := NewClient(splitList(c.String("masters")))
		api.Token = c.String("token")
		ctx, cancel := context.WithTimeout(c.Context, 30*time.Second)
		defer cancel()
		w := c.App.Writer
		if w == nil {
			w = os.Stdout
		}
		return f(env{c: c, api: api, ctx: ctx, json: o == "json", out: w})
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (e env) printJSON(v any) error {
	enc := json.NewEncoder(e.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (e env) table(header string, rows [][]string) {
	tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

func status(e env) error {
	var st master.State
	if err := e.api.Do(e.ctx, "GET", "/api/v1/state", nil, &st); err != nil {
		return err
	}
	var mem []master.Member
	if err := e.api.Do(e.ctx, "GET", "/api/v1/members", nil, &mem); err != nil {
		return err
	}
	if e.json {
		return e.printJSON(map[string]any{"state": st, "members": mem})
	}
	fmt.Fprintf(e.out, "Leader:     %s (term %d)\n", st.Leader, st.Term)
	var ms []string
	for _, m := range mem {
		ms = append(ms, m.Name+"="+m.State)
	}
	fmt.Fprintf(e.out, "Members:    %s\n", strings.Join(ms, " "))
	active := 0
	for _, a := range st.Agents {
		if a.State == "ACTIVE" {
			active++
		}
	}
	fmt.Fprintf(e.out, "Agents:     %d (%d active)\n", len(st.Agents), active)
	fmt.Fprintf(e.out, "Frameworks: %d\n", len(st.Frameworks))
	fmt.Fprintf(e.out, "Tasks:      %d running or staging\n", len(st.Tasks))
	t := st.Totals
	fmt.Fprintf(e.out, "CPUs:       %s used, %s offered of %s\n", num(t.Used.CPUs), num(t.Offered.CPUs), num(t.Total.CPUs))
	fmt.Fprintf(e.out, "Memory:     %s MB used, %s MB offered of %s MB\n", num(t.Used.MemMB), num(t.Offered.MemMB), num(t.Total.MemMB))
	return nil
}

func num(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
}

func agents(e env) error {
	var as []master.AgentView
	if err := e.api.Do(e.ctx, "GET", "/api/v1/agents", nil, &as); err != nil {
		return err
	}
	if e.json {
		return e.printJSON(as)
	}
	var rows [][]string
	for _, a := range as {
		rows = append(rows, []string{string(a.ID), a.Hostname, a.State, res(a.Used) + " / " + res(a.Resources), a.Isolation})
	}
	e.table("ID\tHOSTNAME\tSTATE\tUSED / TOTAL\tISOLATION", rows)
	return nil
}

func res(r wire.Resources) string {
	return fmt.Sprintf("%s cpu %s MB", num(r.CPUs), num(r.MemMB))
}

func frameworks(e env) error {
	var fs []master.FrameworkView
	if err := e.api.Do(e.ctx, "GET", "/api/v1/frameworks", nil, &fs); err != nil {
		return err
	}
	if e.json {
		return e.printJSON(fs)
	}
	var rows [][]string
	for _, f := range fs {
		rows = append(rows, []string{string(f.ID), f.Name, strings.Join(f.Roles, ","), fmt.Sprint(f.Active),
			fmt.Sprintf("%d/%d/%d/%d", f.Stats.OffersSent, f.Stats.OffersAccepted, f.Stats.OffersDeclined, f.Stats.OffersRescinded),
			f.Why})
	}
	e.table("ID\tNAME\tROLES\tACTIVE\tOFFERS SENT/ACC/DECL/RESC\tOFFER STATUS", rows)
	return nil
}

func tasks(e env) error {
	q := url.Values{}
	for _, k := range []string{"framework", "agent", "state"} {
		if v := e.c.String(k); v != "" {
			q.Set(k, v)
		}
	}
	q.Set("limit", fmt.Sprint(e.c.Int("limit")))
	q.Set("offset", fmt.Sprint(e.c.Int("offset")))
	var page master.TaskPage
	if err := e.api.Do(e.ctx, "GET", "/api/v1/tasks?"+q.Encode(), nil, &page); err != nil {
		return err
	}
	if e.json {
		return e.printJSON(page)
	}
	var rows [][]string
	for _, t := range page.Tasks {
		rows = append(rows, []string{string(t.ID), string(t.FrameworkID), string(t.AgentID), string(t.State), string(t.Reason)})
	}
	e.table("ID\tFRAMEWORK\tAGENT\tSTATE\tREASON", rows)
	fmt.Fprintf(e.out, "(%d of %d)\n", len(page.Tasks), page.Total)
	return nil
}

func members(e env) error {
	var mem []master.Member
	if err := e.api.Do(e.ctx, "GET", "/api/v1/members", nil, &mem); err != nil {
		return err
	}
	if e.json {
		return e.printJSON(mem)
	}
	var rows [][]string
	for _, m := range mem {
		rows = append(rows, []string{m.Name, m.RaftAddr, m.State, m.HTTP})
	}
	e.table("NAME\tRAFT ADDRESS\tSTATE\tHTTP", rows)
	return nil
}

func oneArg(e env, what string) (string, error) {
	if e.c.NArg() != 1 {
		return "", fmt.Errorf("want exactly one %s, after the flags (got %q)", what, e.c.Args().Slice())
	}
	return e.c.Args().First(), nil
}

func drain(e env) error {
	id, err := oneArg(e, "AGENT")
	if err != nil {
		return err
	}
	body := map[string]any{"grace": e.c.Duration("grace").String()}
	var out json.RawMessage
	if err := e.api.Do(e.ctx, "POST", "/api/v1/agents/"+url.PathEscape(id)+"/drain", body, &out); err != nil {
		return err
	}
	if e.json {
		_, err := e.out.Write(out)
		return err
	}
	fmt.Fprintf(e.out, "agent %s draining; its tasks are killed after %s\n", id, e.c.Duration("grace"))
	return nil
}

func reactivate(e env) error {
	id, err := oneArg(e, "AGENT")
	if err != nil {
		return err
	}
	var out json.RawMessage
	if err := e.api.Do(e.ctx, "POST", "/api/v1/agents/"+url.PathEscape(id)+"/reactivate", nil, &out); err != nil {
		return err
	}
	if e.json {
		_, err := e.out.Write(out)
		return err
	}
	fmt.Fprintf(e.out, "agent %s active\n", id)
	return nil
}

func roleSet(e env) error {
	role, err := oneArg(e, "ROLE")
	if err != nil {
		return err
	}
	quota, err := wire.ParseResources(e.c.String("quota"))
	if err != nil {
		return fmt.Errorf("--quota: %w", err)
	}
	body := master.RoleView{Name: role, Weight: e.c.Float64("weight"), Quota: quota}
	var out master.RoleView
	if err := e.api.Do(e.ctx, "PUT", "/api/v1/roles/"+url.PathEscape(role), body, &out); err != nil {
		return err
	}
	if e.json {
		return e.printJSON(out)
	}
	fmt.Fprintf(e.out, "role %s: weight %s, quota %s\n", out.Name, num(out.Weight), quotaString(out.Quota))
	return nil
}

func roleList(e env) error {
	var roles []master.RoleView
	if err := e.api.Do(e.ctx, "GET", "/api/v1/roles", nil, &roles); err != nil {
		return err
	}
	if e.json {
		return e.printJSON(roles)
	}
	var rows [][]string
	for _, r := range roles {
		rows = append(rows, []string{r.Name, num(r.Weight), quotaString(r.Quota)})
	}
	e.table("ROLE\tWEIGHT\tQUOTA", rows)
	return nil
}

// quotaString shows the limits that are set; zero means unlimited.
func quotaString(q wire.Resources) string {
	var parts []string
	if q.CPUs > 0 {
		parts = append(parts, "cpus:"+num(q.CPUs))
	}
	if q.MemMB > 0 {
		parts = append(parts, "mem:"+num(q.MemMB))
	}
	if q.DiskMB > 0 {
		parts = append(parts, "disk:"+num(q.DiskMB))
	}
	if len(parts) == 0 {
		return "unlimited"
	}
	return strings.Join(parts, ";")
}
