package chaos

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Summary renders a report for people: the faults, what the workload did,
// and each check's verdict with its first violations.
func Summary(r *Report) string {
	var b strings.Builder
	verdict := "PASS"
	if !r.OK() {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "chaos %s: seed %d, run %s, %s of faults, %s in all, dir %s\n", verdict, r.Seed, r.RunID,
		r.FaultPhase.Round(time.Second), r.Elapsed.Round(time.Second), r.Dir)
	var kinds []string
	total := 0
	for k, n := range r.FaultCounts {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		total += n
	}
	sort.Strings(kinds)
	fmt.Fprintf(&b, "faults: %d (%s); not recovered within %s: %d\n", total, strings.Join(kinds, ", "), recoveryTimeout, r.SlowRecoveries)
	base := r.WorkloadStart
	if base.IsZero() {
		base = r.Started
	}
	fmt.Fprintf(&b, "fault times are seconds since the workload started (%s), as are task and update times\n", base.Format(time.RFC3339Nano))
	for _, e := range r.Faults {
		rec := "not recovered"
		if e.Recovered > 0 {
			rec = "whole again " + (e.Recovered - e.Healed).Round(100*time.Millisecond).String() + " after healing"
		}
		fmt.Fprintf(&b, "  %6.1fs %-16s %-3s for %-5s (leader %s@%d) %s", e.At.Sub(base).Seconds(), e.Kind, e.Target,
			e.For.Round(100*time.Millisecond), e.Leader, e.Term, rec)
		if e.Err != "" {
			fmt.Fprintf(&b, " [%s]", e.Err)
		}
		b.WriteByte('\n')
	}
	s := r.Verdict.Stats
	fmt.Fprintf(&b, "tasks issued %v, launched %v, ran %v; final states %v; %d updates, %d subscriptions\n",
		s.Issued, s.Launched, s.Ran, s.Final, s.Updates, s.Subscriptions)
	fmt.Fprintf(&b, "terms %v; leaders %s; %d LAUNCH messages; %d stale deliveries fenced; %d accounting samples\n",
		s.Terms, strings.Join(s.Leaders, " "), s.LaunchMessages, s.StaleDeliveries, s.Samples)
	l := r.Verdict.Lin
	fmt.Fprintf(&b, "registry history: %d ops (%d checked, %d writes of unknown outcome, %d failed), served by %v\n",
		l.Ops, l.Checked, l.UnknownWrites, l.FailedOps, l.ServedBy)
	if st := r.Verdict.LinStrict; st != nil {
		illegal := 0
		for _, k := range st.Keys {
			if k.Verdict != "Ok" {
				illegal++
			}
		}
		fmt.Fprintf(&b, "strictly (no stale reads allowed): %s, %d of %d keys not linearizable\n", st.Verdict, illegal, len(st.Keys))
	}
	for _, c := range r.Verdict.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "%s %s (%d checked)\n", mark, c.Name, c.Checked)
		for _, v := range c.Violations {
			fmt.Fprintf(&b, "     - %s\n", v)
		}
		if c.More > 0 {
			fmt.Fprintf(&b, "     - ... and %d more\n", c.More)
		}
	}
	return b.String()
}
