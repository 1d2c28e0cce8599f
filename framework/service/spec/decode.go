package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ErrInvalid is wrapped by every decoding and validation error.
var ErrInvalid = errors.New("invalid app spec")

// FieldError is one problem with one field.
type FieldError struct {
	// Field is the path of the field, e.g. "health_checks[0].interval".
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error formats the error as "field: message".
func (e FieldError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Errors is every problem found in a spec. errors.Is(err, ErrInvalid)
// holds for it.
type Errors []FieldError

// Error lists every problem.
func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return "invalid app spec: " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalid) hold.
func (es Errors) Is(target error) bool { return target == ErrInvalid }

var durationType = reflect.TypeFor[Duration]()

// Parse decodes a spec from YAML or JSON (JSON is recognised by a
// leading '{'), strictly: unknown fields and wrong types are errors that
// name the field. It then fills defaults (Instances defaults to 1 when
// the field is absent) and validates. The error is an [Errors].
func Parse(data []byte) (App, error) {
	tree, err := parseTree(data)
	if err != nil {
		return App{}, err
	}
	m, ok := tree.(map[string]any)
	if !ok {
		return App{}, Errors{{Message: "the spec must be a mapping (an object) at the top level"}}
	}
	normalize(m)
	var errs Errors
	checkTree(m, reflect.TypeOf(App{}), "", &errs)
	if len(errs) > 0 {
		return App{}, errs
	}
	b, err := json.Marshal(m)
	if err != nil {
		return App{}, Errors{{Message: err.Error()}}
	}
	var app App
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&app); err != nil {
		return App{}, Errors{jsonFieldError(err)}
	}
	if _, ok := m["instances"]; !ok {
		app.Instances = 1
	}
	app.SetDefaults()
	if err := app.Validate(); err != nil {
		return App{}, err
	}
	return app, nil
}

func parseTree(data []byte) (any, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, Errors{{Message: "empty spec"}}
	}
	var tree any
	if trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.UseNumber()
		if err := dec.Decode(&tree); err != nil {
			return nil, Errors{{Message: "not valid JSON: " + err.Error()}}
		}
		if dec.More() {
			return nil, Errors{{Message: "not valid JSON: data after the top-level object"}}
		}
		return tree, nil
	}
	if err := yaml.Unmarshal(trimmed, &tree); err != nil {
		return nil, Errors{{Message: "not valid YAML: " + err.Error()}}
	}
	return stringKeys(tree, "")
}

// stringKeys turns YAML's maps into map[string]any, refusing keys that
// are not strings.
func stringKeys(v any, path string) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			c, err := stringKeys(e, join(path, k))
			if err != nil {
				return nil, err
			}
			t[k] = c
		}
		return t, nil
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			ks, ok := k.(string)
			if !ok {
				return nil, Errors{{Field: path, Message: fmt.Sprintf("key %v is not a string", k)}}
			}
			c, err := stringKeys(e, join(path, ks))
			if err != nil {
				return nil, err
			}
			out[ks] = c
		}
		return out, nil
	case []any:
		for i, e := range t {
			c, err := stringKeys(e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			t[i] = c
		}
		return t, nil
	}
	return v, nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// normalize accepts shorthands: ports given as numbers, and constraints
// given as Marathon's ["field", "OPERATOR", "value"] arrays.
func normalize(m map[string]any) {
	if ports, ok := m["ports"].([]any); ok {
		for i, p := range ports {
			switch p.(type) {
			case int, int64, float64, json.Number:
				ports[i] = map[string]any{"port": p}
			}
		}
	}
	if cs, ok := m["constraints"].([]any); ok {
		for i, c := range cs {
			arr, ok := c.([]any)
			if !ok {
				continue
			}
			parts := make([]string, 0, len(arr))
			allStrings := true
			for _, e := range arr {
				s, ok := e.(string)
				if !ok {
					allStrings = false
					break
				}
				parts = append(parts, s)
			}
			if allStrings {
				cs[i] = strings.Join(parts, ":")
			}
		}
	}
}

// checkTree walks a decoded tree against the Go type it will decode into
// and reports unknown fields and wrong types with their full paths.
func checkTree(v any, t reflect.Type, path string, errs *Errors) {
	add := func(format string, args ...any) {
		*errs = append(*errs, FieldError{Field: path, Message: fmt.Sprintf(format, args...)})
	}
	if v == nil {
		return // null leaves the zero value
	}
	if t == durationType {
		s, ok := v.(string)
		if !ok {
			add("want a duration such as \"10s\", got %s", describe(v))
			return
		}
		if _, err := time.ParseDuration(s); err != nil {
			add("invalid duration %q (want e.g. \"500ms\", \"10s\", \"1m\")", s)
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		checkTree(v, t.Elem(), path, errs)
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			add("want a mapping, got %s", describe(v))
			return
		}
		fields := jsonFields(t)
		for k, e := range m {
			f, ok := fields[k]
			if !ok {
				*errs = append(*errs, FieldError{Field: join(path, k), Message: "unknown field" + suggest(k, fields)})
				continue
			}
			checkTree(e, f.Type, join(path, k), errs)
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			add("want a mapping, got %s", describe(v))
			return
		}
		for k, e := range m {
			checkTree(e, t.Elem(), join(path, k), errs)
		}
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			add("want a list, got %s", describe(v))
			return
		}
		for i, e := range arr {
			checkTree(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			add("want a string, got %s", describe(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			add("want true or false, got %s", describe(v))
		}
	case reflect.Int:
		f, ok := number(v)
		if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			add("want a whole number, got %s", describe(v))
		}
	case reflect.Float64:
		if _, ok := number(v); !ok {
			add("want a number, got %s", describe(v))
		}
	}
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func describe(v any) string {
	switch t := v.(type) {
	case string:
		return "string " + strconv.Quote(t)
	case bool:
		return fmt.Sprintf("%v", t)
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	}
	if f, ok := number(v); ok {
		return "number " + strconv.FormatFloat(f, 'g', -1, 64)
	}
	return fmt.Sprintf("%T", v)
}

func jsonFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f
	}
	return out
}

// suggest names a known field close to an unknown one.
func suggest(k string, fields map[string]reflect.StructField) string {
	lk := strings.ToLower(strings.ReplaceAll(k, "-", "_"))
	for name := range fields {
		if name == lk || strings.ReplaceAll(name, "_", "") == strings.ReplaceAll(lk, "_", "") {
			return fmt.Sprintf(" (did you mean %q?)", name)
		}
	}
	return ""
}

func jsonFieldError(err error) FieldError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return FieldError{Field: te.Field, Message: fmt.Sprintf("cannot use %s as %s", te.Value, te.Type)}
	}
	return FieldError{Message: err.Error()}
}
