// Package cliargs holds helpers for command lines built with
// github.com/urfave/cli/v2: the agora binary's and any a framework author
// writes for a framework.
package cliargs

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"
)

// Interspersed lets flags follow the positional arguments (`submit FILE
// --wait`, `role set ROLE --weight 2`), which urfave/cli v2 does not: it
// stops parsing flags at the first argument. Wrapped around a command's
// action, it parses the remaining arguments again, flags wherever they
// are (values given before the arguments are kept, and a value given by
// an alias counts for the flag's name), and calls action with a context
// holding the result.
func Interspersed(action cli.ActionFunc) cli.ActionFunc {
	return func(c *cli.Context) error {
		args := c.Args().Slice()
		late := false
		for _, a := range args {
			late = late || (strings.HasPrefix(a, "-") && a != "-")
		}
		if !late {
			return action(c)
		}
		set := flag.NewFlagSet(c.Command.Name, flag.ContinueOnError)
		set.SetOutput(io.Discard)
		for _, f := range c.Command.Flags {
			if err := f.Apply(set); err != nil {
				return err
			}
		}
		for _, name := range c.LocalFlagNames() {
			if err := set.Set(name, fmt.Sprint(c.Value(name))); err != nil {
				return err
			}
		}
		var pos []string
		for rest := args; ; {
			if err := set.Parse(rest); err != nil {
				return fmt.Errorf("%s: %w", c.Command.Name, err)
			}
			rest = set.Args()
			if len(rest) == 0 {
				break
			}
			pos = append(pos, rest[0])
			rest = rest[1:]
		}
		// As urfave/cli does: a value given by an alias counts for the name.
		visited := map[string]bool{}
		set.Visit(func(f *flag.Flag) { visited[f.Name] = true })
		for _, f := range c.Command.Flags {
			names := f.Names()
			for _, alias := range names[1:] {
				if visited[alias] && !visited[names[0]] {
					if err := set.Set(names[0], set.Lookup(alias).Value.String()); err != nil {
						return err
					}
				}
			}
		}
		if err := set.Parse(append([]string{"--"}, pos...)); err != nil {
			return err
		}
		nc := cli.NewContext(c.App, set, c.Lineage()[1])
		nc.Command = c.Command
		return action(nc)
	}
}
