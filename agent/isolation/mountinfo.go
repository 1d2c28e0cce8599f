package isolation

import (
	"bufio"
	"io"
	"strings"
)

// mount is one cgroup mount from /proc/self/mountinfo.
type mount struct {
	point   string
	fstype  string   // "cgroup" or "cgroup2"
	options []string // super options; for v1 they name the controllers
}

// parseMountinfo returns the cgroup and cgroup2 mounts listed in r, in
// the format of proc(5) /proc/[pid]/mountinfo.
func parseMountinfo(r io.Reader) ([]mount, error) {
	var out []mount
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf := strings.Fields(pre)
		qf := strings.Fields(post)
		if len(pf) < 5 || len(qf) < 3 {
			continue
		}
		if qf[0] != "cgroup" && qf[0] != "cgroup2" {
			continue
		}
		out = append(out, mount{
			point:   unescapeMount(pf[4]),
			fstype:  qf[0],
			options: strings.Split(qf[2], ","),
		})
	}
	return out, sc.Err()
}

// unescapeMount undoes the octal escapes (\040 for a space, ...) that the
// kernel uses in mountinfo paths.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

func hasOption(m mount, name string) bool {
	for _, o := range m.options {
		if o == name {
			return true
		}
	}
	return false
}
