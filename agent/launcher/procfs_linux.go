//go:build linux

package launcher

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// Task usage is read here from /proc/<pid>/stat rather than with
// gopsutil's process package, which the agent uses for machine resources
// (package resources). Three reasons, checked against gopsutil v3.24:
//   - its Times leaves out cutime/cstime, the cpu of children a process
//     has already reaped, so a task whose shell runs many short commands
//     would look idle; Usage counts them;
//   - it has no process group ID, which the task's members are found by,
//     so /proc/<pid>/stat would be read anyway, and Times and MemoryInfo
//     read stat again and statm (three reads a process instead of one);
//   - its process tree (Children) runs pgrep for each process, and a
//     tree misses what was re-parented; the group and cgroup do not.

// clockTicks is USER_HZ, the unit of the times in /proc/<pid>/stat. It is
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// procStat is the part of /proc/<pid>/stat the launcher uses.
type procStat struct {
	pid, ppid, pgid int
	state           byte
	utime, stime    uint64 // clock ticks
	cutime, cstime  uint64 // clock ticks of reaped children
	start           uint64 // clock ticks after boot
	rssPages        int64
}

// dead reports whether the process has exited (zombie or dying).
func (s procStat) dead() bool { return s.state == 'Z' || s.state == 'X' || s.state == 'x' }

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

// parseStat parses proc(5) /proc/<pid>/stat. The command name is in
// parentheses and may itself contain spaces and parentheses, so fields are
// counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	var s procStat
	open, closing := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 1 || closing < open {
		return s, errors.New("malformed /proc stat")
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return s, fmt.Errorf("malformed /proc stat pid: %w", err)
	}
	f := bytes.Fields(b[closing+1:])
	// f[0] is field 3 (state); field n is f[n-3].
	if len(f) < 22 || len(f[0]) != 1 {
		return s, errors.New("malformed /proc stat: too few fields")
	}
	num := func(n int) uint64 {
		v, perr := strconv.ParseUint(string(f[n-3]), 10, 64)
		if perr != nil && err == nil {
			err = fmt.Errorf("malformed /proc stat field %d: %w", n, perr)
		}
		return v
	}
	s.pid, s.state = pid, f[0][0]
	s.ppid, s.pgid = int(num(4)), int(num(5))
	s.utime, s.stime, s.cutime, s.cstime = num(14), num(15), num(16), num(17)
	s.start = num(22)
	rss, perr := strconv.ParseInt(string(f[24-3]), 10, 64)
	if perr != nil && err == nil {
		err = fmt.Errorf("malformed /proc stat field 24: %w", perr)
	}
	s.rssPages = rss
	return s, err
}

// allStats reads the stat of every process; processes that vanish while
// it reads are skipped.
func allStats() ([]procStat, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	out := make([]procStat, 0, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil {
			out = append(out, st)
		}
	}
	return out, nil
}

// isOurs reports whether pid is still the process that started at start
// ticks (a zombie counts: its pid cannot be reused yet).
func isOurs(pid int, start uint64) bool {
	st, err := readStat(pid)
	return err == nil && st.start == start
}

// signalGroup signals the process group led (once) by pid, unless pid now
// belongs to another process, in which case the group is no longer ours.
// A group can outlive its leader; while any member lives, the kernel keeps
// the pgid from being handed out as a new pid.
func signalGroup(pgid int, start uint64, sig syscall.Signal) {
	if st, err := readStat(pgid); err == nil && st.start != start {
		return
	}
	_ = syscall.Kill(-pgid, sig)
}
