package spec

import (
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

var durationType = reflect.TypeOf(Duration(0))

// decoder fills Go values from nodes, strictly: unknown fields, duplicate
// keys and values of the wrong kind are errors with their path.
type decoder struct {
	errs *errorList
	// set records the paths (relative to the job) given in the input.
	set map[string]bool
}

func (d *decoder) decode(n *node, v reflect.Value, path string) {
	if n.kind == kNull {
		return
	}
	d.set[path] = true
	if v.Type() == durationType {
		d.duration(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Map:
		d.mapping(n, v, path)
	case reflect.Slice:
		if n.kind != kSeq {
			d.errs.add(path, n.line, "must be a list, not %s", n.kind)
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.items), len(n.items))
		for i, item := range n.items {
			d.decode(item, s.Index(i), path+"["+strconv.Itoa(i)+"]")
		}
		v.Set(s)
	case reflect.String:
		if s, ok := d.scalar(n, path, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Int:
		s, ok := d.scalar(n, path, "an integer")
		if !ok {
			return
		}
		i, err := strconv.ParseInt(s, 10, 32)
		if err != nil || n.quoted {
			d.errs.add(path, n.line, "must be an integer, not %q", s)
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		s, ok := d.scalar(n, path, "a number")
		if !ok {
			return
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || n.quoted || strings.ContainsAny(s, "xXpP_") {
			d.errs.add(path, n.line, "must be a number, not %q", s)
			return
		}
		v.SetFloat(f)
	case reflect.Bool:
		s, ok := d.scalar(n, path, "true or false")
		if !ok {
			return
		}
		if n.quoted || (s != "true" && s != "false") {
			d.errs.add(path, n.line, "must be true or false, not %q", s)
			return
		}
		v.SetBool(s == "true")
	default:
		d.errs.add(path, n.line, "cannot be decoded (internal error: %s)", v.Kind())
	}
}

func (d *decoder) scalar(n *node, path, want string) (string, bool) {
	if n.kind != kScalar {
		d.errs.add(path, n.line, "must be %s, not %s", want, n.kind)
		return "", false
	}
	return n.scalar, true
}

func (d *decoder) duration(n *node, v reflect.Value, path string) {
	s, ok := d.scalar(n, path, "a duration")
	if !ok {
		return
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		d.errs.add(path, n.line, "invalid duration %q: want a number with a unit, like \"30s\", \"5m\" or \"1h30m\"", s)
		return
	}
	v.SetInt(int64(dur))
}

func (d *decoder) mapping(n *node, v reflect.Value, path string) {
	if n.kind != kMap {
		d.errs.add(path, n.line, "must be a mapping, not %s", n.kind)
		return
	}
	if v.Type().Key().Kind() != reflect.String {
		d.errs.add(path, n.line, "cannot be decoded (internal error: map key)")
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.keys))
	seen := map[string]bool{}
	for i, k := range n.keys {
		p := path + "." + k
		if seen[k] {
			d.errs.add(p, n.vals[i].line, "given twice")
			continue
		}
		seen[k] = true
		ev := reflect.New(v.Type().Elem()).Elem()
		d.decode(n.vals[i], ev, p)
		m.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), ev)
	}
	v.Set(m)
}

// fieldIndex maps a struct's JSON names to field indexes.
func fieldIndex(t reflect.Type) (map[string]int, []string) {
	idx := map[string]int{}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		idx[name] = i
		names = append(names, name)
	}
	sort.Strings(names)
	return idx, names
}

func (d *decoder) structure(n *node, v reflect.Value, path string) {
	if n.kind != kMap {
		d.errs.add(path, n.line, "must be a mapping, not %s", n.kind)
		return
	}
	idx, names := fieldIndex(v.Type())
	seen := map[string]bool{}
	for i, k := range n.keys {
		p := join(path, k)
		fi, ok := idx[k]
		if !ok {
			d.errs.add(p, n.vals[i].line, "unknown field%s (known fields: %s)", suggest(k, names), strings.Join(names, ", "))
			continue
		}
		if seen[k] {
			d.errs.add(p, n.vals[i].line, "given twice")
			continue
		}
		seen[k] = true
		d.decode(n.vals[i], v.Field(fi), p)
	}
}

// suggest proposes a known name close to an unknown one.
func suggest(k string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if dist := editDistance(strings.ToLower(k), n); dist < bestD {
			best, bestD = n, dist
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + strconv.Quote(best) + "?)"
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
