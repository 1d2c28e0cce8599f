package operator

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// interspersed lets flags follow the positional arguments (`role set ROLE
// --weight 2`), which urfave/cli v2 does not: it stops parsing flags at
// the first argument. The remaining arguments are parsed again, flags
// wherever they are, and action gets a context with the result (the idea
// of framework/batch's helper of the same name).
func interspersed(action cli.ActionFunc) cli.ActionFunc {
	return func(c *cli.Context) error {
		args := c.Args().Slice()
		if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "-") && a != "-" }) {
			return action(c)
		}
		set := flag.NewFlagSet(c.Command.Name, flag.ContinueOnError)
		set.SetOutput(io.Discard)
		for _, f := range c.Command.Flags {
			if err := f.Apply(set); err != nil {
				return err
			}
		}
		// Flags given before the arguments keep their values.
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
			pos, rest = append(pos, rest[0]), rest[1:]
		}
		if err := set.Parse(append([]string{"--"}, pos...)); err != nil {
			return err
		}
		nc := cli.NewContext(c.App, set, c.Lineage()[1])
		nc.Command = c.Command
		return action(nc)
	}
}
