// Package dag checks and orders the dependency graph of batch jobs: each
// job names the jobs it depends on (its parents); the graph must be
// acyclic and every parent must exist.
package dag

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Errors returned by Check.
var (
	// ErrCycle means the graph has a cycle.
	ErrCycle = errors.New("dependency cycle")
	// ErrUnknown means a job depends on a job that does not exist.
	ErrUnknown = errors.New("unknown job")
)

// Graph maps each job to its parents.
type Graph map[string][]string

// CycleError names the jobs on a cycle, first job repeated at the end.
type CycleError struct {
	Path []string
}

func (e *CycleError) Error() string {
	return fmt.Sprintf("%v: %s", ErrCycle, strings.Join(e.Path, " → "))
}

// Unwrap makes errors.Is(err, ErrCycle) hold.
func (e *CycleError) Unwrap() error { return ErrCycle }

// UnknownError names a job and the missing parent it depends on.
type UnknownError struct {
	Job, Parent string
}

func (e *UnknownError) Error() string {
	return fmt.Sprintf("job %q depends on %v %q", e.Job, ErrUnknown, e.Parent)
}

// Unwrap makes errors.Is(err, ErrUnknown) hold.
func (e *UnknownError) Unwrap() error { return ErrUnknown }

// Check returns an *UnknownError if a parent is missing, a *CycleError if
// the graph has a cycle, or nil. Jobs are visited in name order, so the
// error is the same for the same graph.
func Check(g Graph) error {
	for _, j := range sortedKeys(g) {
		for _, p := range g[j] {
			if _, ok := g[p]; !ok {
				return &UnknownError{Job: j, Parent: p}
			}
		}
	}
	_, err := Order(g)
	return err
}

// Order returns the jobs so that every job comes after its parents (ties
// in name order), or a *CycleError. Parents missing from g are ignored.
func Order(g Graph) ([]string, error) {
	const (
		white = iota
		grey
		black
	)
	color := make(map[string]int, len(g))
	out := make([]string, 0, len(g))
	var stack []string
	var visit func(string) error
	visit = func(j string) error {
		switch color[j] {
		case black:
			return nil
		case grey:
			i := len(stack) - 1
			for stack[i] != j {
				i--
			}
			path := append(append([]string(nil), stack[i:]...), j)
			return &CycleError{Path: path}
		}
		color[j] = grey
		stack = append(stack, j)
		parents := append([]string(nil), g[j]...)
		sort.Strings(parents)
		for _, p := range parents {
			if _, ok := g[p]; !ok {
				continue
			}
			if err := visit(p); err != nil {
				return err
			}
		}
		stack = stack[:len(stack)-1]
		color[j] = black
		out = append(out, j)
		return nil
	}
	for _, j := range sortedKeys(g) {
		if err := visit(j); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Children returns the jobs that depend directly on job, in name order.
func Children(g Graph, job string) []string {
	var out []string
	for j, parents := range g {
		for _, p := range parents {
			if p == job {
				out = append(out, j)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

func sortedKeys(g Graph) []string {
	keys := make([]string, 0, len(g))
	for k := range g {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
