//go:build linux

package launcher

import (
	"os"
	"syscall"
	"testing"
)

func TestParseStat(t *testing.T) {
	line := "4242 (we ird) (name)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 1 0 987654 1000000 321 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
	st, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	want := procStat{pid: 4242, ppid: 1, pgid: 4242, state: 'S', utime: 250, stime: 50, cutime: 7, cstime: 3, start: 987654, rssPages: 321}
	if st != want {
		t.Errorf("parsed %+v, want %+v", st, want)
	}
	for _, bad := range []string{"", "12 (x", "x (y) S 1", "12 (y) S 1 2"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) accepted", bad)
		}
	}
	self, err := readStat(os.Getpid())
	if err != nil || self.pid != os.Getpid() || self.start == 0 || self.pgid != syscall.Getpgrp() {
		t.Errorf("own stat = %+v, %v", self, err)
	}
}

func TestShellStatus(t *testing.T) {
	if o := shellStatus(143); o.signal != "SIGTERM" {
		t.Errorf("143 = %+v, want SIGTERM", o)
	}
	if o := shellStatus(3); o.signal != "" || o.code != 3 {
		t.Errorf("3 = %+v", o)
	}
	if o := shellStatus(255); o.signal != "" || o.code != 255 {
		t.Errorf("255 = %+v, want an exit code", o)
	}
}
