// Package cron computes when scheduled batch jobs are due: cron
// expressions read in a time zone, missed starts after downtime, and the
// starting deadline. Time comes from a [Clock], so tests use a fake one.
package cron

import (
	"fmt"
	"time"

	robfig "github.com/robfig/cron/v3"

	"github.com/agora-cluster/agora/framework/batch/spec"
)

// Schedule is a cron expression in a time zone.
type Schedule struct {
	expr  string
	sched robfig.Schedule
	loc   *time.Location
}

// Parse parses a cron expression (see [spec.ParseCron]) read in the IANA
// time zone tz ("" means UTC).
func Parse(expr, tz string) (*Schedule, error) {
	s, err := spec.ParseCron(expr)
	if err != nil {
		return nil, fmt.Errorf("cron %q: %w", expr, err)
	}
	if tz == "" {
		tz = "UTC"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", tz, err)
	}
	return &Schedule{expr: expr, sched: s, loc: loc}, nil
}

// String returns the expression and zone.
func (s *Schedule) String() string { return s.expr + " (" + s.loc.String() + ")" }

// Next returns the first scheduled time strictly after t.
func (s *Schedule) Next(t time.Time) time.Time {
	return s.sched.Next(t.In(s.loc))
}

// Decision says what to do with a schedule at a moment.
type Decision struct {
	// Start, if not zero, is the scheduled time of the run to start now.
	Start time.Time
	// Missed are the scheduled times that passed without a run, oldest
	// first; at most the limit given to Due (the rest are only counted).
	Missed []time.Time
	// MissedTotal counts every missed time, including those not listed.
	MissedTotal int
	// Cursor is the latest scheduled time now considered (started or
	// missed); the next call to Due continues after it.
	Cursor time.Time
}

// Due decides what is due at now for a schedule whose times up to cursor
// have been handled. Of the times in (cursor, now], only the latest may
// start, and only if it is at most deadline old (deadline ≤ 0 means no
// limit); every other one is missed. maxListed bounds Decision.Missed.
func Due(s *Schedule, cursor, now time.Time, deadline time.Duration, maxListed int) Decision {
	d := Decision{Cursor: cursor}
	var due []time.Time
	for t := s.Next(cursor); !t.IsZero() && !t.After(now); t = s.Next(t) {
		due = append(due, t)
		if len(due) > maxListed+1 {
			// Keep the list bounded: drop the oldest but count it.
			d.MissedTotal++
			due = due[1:]
		}
		d.Cursor = t
	}
	if len(due) == 0 {
		return d
	}
	latest := due[len(due)-1]
	missed := due[:len(due)-1]
	if deadline <= 0 || now.Sub(latest) <= deadline {
		d.Start = latest
	} else {
		missed = due
	}
	d.MissedTotal += len(missed)
	if len(missed) > maxListed {
		missed = missed[len(missed)-maxListed:]
	}
	d.Missed = append([]time.Time(nil), missed...)
	return d
}
