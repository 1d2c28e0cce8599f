package cron

import (
	"testing"
	"time"
)

func mustParse(t *testing.T, expr, tz string) *Schedule {
	t.Helper()
	s, err := Parse(expr, tz)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTimeZone(t *testing.T) {
	// 03:00 in Berlin is 01:00 UTC in summer (CEST) and 02:00 in winter.
	s := mustParse(t, "0 3 * * *", "Europe/Berlin")
	summer := s.Next(time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC))
	if want := time.Date(2025, 7, 1, 1, 0, 0, 0, time.UTC); !summer.Equal(want) {
		t.Errorf("summer: %s, want %s", summer.UTC(), want)
	}
	winter := s.Next(time.Date(2025, 1, 10, 12, 0, 0, 0, time.UTC))
	if want := time.Date(2025, 1, 11, 2, 0, 0, 0, time.UTC); !winter.Equal(want) {
		t.Errorf("winter: %s, want %s", winter.UTC(), want)
	}
	// UTC by default.
	u := mustParse(t, "0 3 * * *", "")
	if got := u.Next(time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)); got.UTC().Hour() != 3 {
		t.Errorf("UTC default: %s", got)
	}
	if _, err := Parse("0 3 * * *", "Nowhere/City"); err == nil {
		t.Error("bad zone accepted")
	}
	if _, err := Parse("not cron", ""); err == nil {
		t.Error("bad expression accepted")
	}
}

func TestDueOnTime(t *testing.T) {
	s := mustParse(t, "*/5 * * * *", "UTC")
	base := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	clk := NewFake(base.Add(30 * time.Second))
	cursor := clk.Now()
	if d := Due(s, cursor, clk.Now(), time.Minute, 10); !d.Start.IsZero() || d.MissedTotal != 0 {
		t.Fatalf("due too early: %+v", d)
	}
	clk.Set(base.Add(5*time.Minute + 2*time.Second))
	d := Due(s, cursor, clk.Now(), time.Minute, 10)
	if !d.Start.Equal(base.Add(5*time.Minute)) || d.MissedTotal != 0 || !d.Cursor.Equal(d.Start) {
		t.Fatalf("at 10:05:02: %+v", d)
	}
	// Nothing more is due until 10:10.
	if d2 := Due(s, d.Cursor, clk.Now(), time.Minute, 10); !d2.Start.IsZero() {
		t.Fatalf("due twice: %+v", d2)
	}
}

func TestDueAfterDowntime(t *testing.T) {
	s := mustParse(t, "*/5 * * * *", "UTC")
	base := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	// Down from 10:00 to 10:21:30: 10:05, 10:10, 10:15, 10:20 passed.
	now := base.Add(21*time.Minute + 30*time.Second)
	d := Due(s, base, now, 2*time.Minute, 10)
	if !d.Start.Equal(base.Add(20 * time.Minute)) {
		t.Errorf("start = %s, want 10:20 (within the 2m deadline)", d.Start)
	}
	if d.MissedTotal != 3 || len(d.Missed) != 3 || !d.Missed[0].Equal(base.Add(5*time.Minute)) {
		t.Errorf("missed = %d %v", d.MissedTotal, d.Missed)
	}
	// With a 1m deadline, 10:20 is too late as well.
	d = Due(s, base, now, time.Minute, 10)
	if !d.Start.IsZero() || d.MissedTotal != 4 || !d.Cursor.Equal(base.Add(20*time.Minute)) {
		t.Errorf("1m deadline: %+v", d)
	}
	// A long outage lists only the last few misses but counts all.
	d = Due(s, base, base.Add(24*time.Hour+2*time.Minute), time.Minute, 5)
	if d.MissedTotal != 288 || len(d.Missed) != 5 || !d.Start.IsZero() {
		t.Errorf("day down: total %d listed %d start %s", d.MissedTotal, len(d.Missed), d.Start)
	}
	if !d.Missed[4].Equal(base.Add(24 * time.Hour)) {
		t.Errorf("last listed miss %s", d.Missed[4])
	}
}
