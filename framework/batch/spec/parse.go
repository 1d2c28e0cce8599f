package spec

import (
	"bytes"
	"fmt"
	"reflect"
	"strconv"
)

// Format is the syntax of a job file.
type Format int

// Formats.
const (
	// Auto treats input that starts with '{' or '[' as JSON, anything
	// else as YAML.
	Auto Format = iota
	YAML
	JSON
)

// FormatOf guesses a file's format from its name's extension.
func FormatOf(filename string) Format {
	for _, ext := range []string{".json"} {
		if len(filename) > len(ext) && filename[len(filename)-len(ext):] == ext {
			return JSON
		}
	}
	for _, ext := range []string{".yaml", ".yml"} {
		if len(filename) > len(ext) && filename[len(filename)-len(ext):] == ext {
			return YAML
		}
	}
	return Auto
}

// MaxFileSize bounds a job file.
const MaxFileSize = 1 << 20

// Parse parses and validates a job file and returns its jobs with their
// defaults filled in. On bad input the error is an [Errors] listing every
// problem found (it wraps [ErrInvalid]).
func Parse(data []byte, f Format) ([]Job, error) {
	if len(data) > MaxFileSize {
		return nil, Errors{{Message: fmt.Sprintf("file larger than %d bytes", MaxFileSize)}}
	}
	if f == Auto {
		f = YAML
		if t := bytes.TrimLeft(data, " \t\r\n\ufeff"); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
			f = JSON
		}
	}
	var docs []*node
	if f == JSON {
		n, err := parseJSON(data)
		if err != nil {
			return nil, Errors{{Message: err.Error()}}
		}
		docs = []*node{n}
	} else {
		var err error
		if docs, err = parseYAML(data); err != nil {
			return nil, Errors{{Message: err.Error()}}
		}
	}
	if len(docs) == 0 {
		return nil, Errors{{Message: "no job in the file"}}
	}
	type item struct {
		n    *node
		path string
	}
	var items []item
	for di, doc := range docs {
		prefix := ""
		if len(docs) > 1 {
			prefix = "documents[" + strconv.Itoa(di) + "]"
		}
		switch {
		case doc.kind == kMap && len(doc.keys) > 0 && doc.keys[0] == "jobs":
			if len(doc.keys) > 1 {
				return nil, Errors{{Path: join(prefix, doc.keys[1]), Line: doc.vals[1].line,
					Message: "a file with \"jobs\" may hold nothing else"}}
			}
			list := doc.vals[0]
			if list.kind != kSeq {
				return nil, Errors{{Path: join(prefix, "jobs"), Line: list.line, Message: "must be a list of jobs"}}
			}
			for i, n := range list.items {
				items = append(items, item{n, join(prefix, "jobs["+strconv.Itoa(i)+"]")})
			}
		case doc.kind == kSeq:
			for i, n := range doc.items {
				items = append(items, item{n, join(prefix, "["+strconv.Itoa(i)+"]")})
			}
		default:
			items = append(items, item{doc, prefix})
		}
	}
	if len(items) == 0 {
		return nil, Errors{{Message: "no job in the file"}}
	}
	errs := &errorList{}
	jobs := make([]Job, 0, len(items))
	names := map[string]string{}
	for _, it := range items {
		j, jerrs := decodeJob(it.n, it.path)
		errs.errs = append(errs.errs, jerrs...)
		if j.Name != "" {
			if prev, dup := names[j.Name]; dup {
				errs.add(join(it.path, "name"), 0, "job %q is also defined at %s", j.Name, orTop(prev))
			}
			names[j.Name] = it.path
		}
		jobs = append(jobs, j)
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return jobs, nil
}

func orTop(p string) string {
	if p == "" {
		return "the top"
	}
	return p
}

// decodeJob decodes and validates one job node.
func decodeJob(n *node, path string) (Job, Errors) {
	errs := &errorList{prefix: path}
	var j Job
	if n.kind != kMap {
		errs.add("", n.line, "a job must be a mapping, not %s", n.kind)
		return j, errs.errs
	}
	d := &decoder{errs: errs, set: map[string]bool{}}
	d.decode(n, reflect.ValueOf(&j).Elem(), "")
	lines := map[string]int{}
	collectLines(n, "", lines)
	v := &validator{errs: errs, set: d.set, lines: lines}
	if len(errs.errs) == 0 {
		v.job(&j)
	}
	if len(errs.errs) > 0 {
		return Job{}, errs.errs
	}
	return j.WithDefaults(), nil
}

// collectLines records the line of every path in n.
func collectLines(n *node, path string, out map[string]int) {
	out[path] = n.line
	switch n.kind {
	case kMap:
		for i, k := range n.keys {
			collectLines(n.vals[i], join(path, k), out)
		}
	case kSeq:
		for i, c := range n.items {
			collectLines(c, path+"["+strconv.Itoa(i)+"]", out)
		}
	}
}

// Validate checks a job built in code (not parsed from a file) and
// returns it with defaults filled in.
func Validate(j Job) (Job, error) {
	errs := &errorList{}
	set := map[string]bool{}
	// Without a source, treat every non-zero field as given.
	markSet(reflect.ValueOf(j), "", set)
	v := &validator{errs: errs, set: set, lines: map[string]int{}}
	v.job(&j)
	if err := errs.err(); err != nil {
		return Job{}, err
	}
	return j.WithDefaults(), nil
}

func markSet(v reflect.Value, path string, set map[string]bool) {
	if v.IsZero() {
		return
	}
	set[path] = true
	switch v.Kind() {
	case reflect.Pointer:
		markSet(v.Elem(), path, set)
	case reflect.Struct:
		if v.Type() == durationType {
			return
		}
		idx, names := fieldIndex(v.Type())
		for _, name := range names {
			markSet(v.Field(idx[name]), join(path, name), set)
		}
	case reflect.Slice:
		for i := range v.Len() {
			markSet(v.Index(i), path+"["+strconv.Itoa(i)+"]", set)
		}
	}
}
