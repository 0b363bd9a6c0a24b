package api

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// schema is the subset of JSON Schema draft 4 the original's request
// schemas (zvmsdk/sdkwsgi/schemas, validation/parameter_types.py) use.
// Keywords are checked in the order the original's dicts list them, so
// the first error reported is the one python-jsonschema reports.
type schema struct {
	types    []string // "object", "string", "integer", "boolean", "array", "null"
	props    []prop   // object properties, in declaration order
	required []string
	closed   bool                // additionalProperties: false
	deps     map[string][]string // dependencies
	minLen   int
	maxLen   int // 0: none
	pattern  *regexp.Regexp
	enum     []any
	min, max *int64
	items    *schema
	minItems int
	unique   bool
	oneOf    []*schema
	format   string // "ipv4"
}

type prop struct {
	name string
	s    *schema
}

// schemaError is a python-jsonschema ValidationError: the path to the
// failing value, the value and the message.
type schemaError struct {
	path     []string
	instance any
	msg      string
}

// detail renders the error as validation/__init__.py does for a body.
func (e *schemaError) detail() string {
	if len(e.path) == 0 {
		return e.msg
	}
	return fmt.Sprintf("Invalid input for field/attribute %s. Value: %s. %s",
		e.path[len(e.path)-1], pyStr(e.instance), e.msg)
}

func int64p(v int64) *int64 { return &v }

// validate checks v against s and returns the first error.
func (s *schema) validate(v any, path []string) *schemaError {
	fail := func(format string, args ...any) *schemaError {
		return &schemaError{path: path, instance: v, msg: fmt.Sprintf(format, args...)}
	}
	if len(s.oneOf) > 0 {
		n := 0
		for _, o := range s.oneOf {
			if o.validate(v, path) == nil {
				n++
			}
		}
		if n != 1 {
			if n == 0 {
				return fail("%s is not valid under any of the given schemas", pyRepr(v))
			}
			return fail("%s is valid under each of the given schemas", pyRepr(v))
		}
		return nil
	}
	if len(s.types) > 0 && !slices.ContainsFunc(s.types, func(t string) bool { return isType(v, t) }) {
		q := make([]string, len(s.types))
		for i, t := range s.types {
			q[i] = pyRepr(t)
		}
		return fail("%s is not of type %s", pyRepr(v), strings.Join(q, ", "))
	}
	switch x := v.(type) {
	case map[string]any:
		for _, p := range s.props {
			if pv, ok := x[p.name]; ok {
				if err := p.s.validate(pv, append(slices.Clip(path), p.name)); err != nil {
					return err
				}
			}
		}
		for _, r := range s.required {
			if _, ok := x[r]; !ok {
				return fail("%s is a required property", pyRepr(r))
			}
		}
		if s.closed {
			var extra []string
			for k := range x {
				if !slices.ContainsFunc(s.props, func(p prop) bool { return p.name == k }) {
					extra = append(extra, pyRepr(k))
				}
			}
			if len(extra) > 0 {
				sort.Strings(extra)
				verb := "was"
				if len(extra) > 1 {
					verb = "were"
				}
				return fail("Additional properties are not allowed (%s %s unexpected)", strings.Join(extra, ", "), verb)
			}
		}
		for k, need := range s.deps {
			if _, ok := x[k]; !ok {
				continue
			}
			for _, d := range need {
				if _, ok := x[d]; !ok {
					return fail("%s is a dependency of %s", pyRepr(d), pyRepr(k))
				}
			}
		}
	case string:
		n := len([]rune(x))
		if s.minLen > 0 && n < s.minLen {
			return fail("%s is too short", pyRepr(v))
		}
		if s.maxLen > 0 && n > s.maxLen {
			return fail("%s is too long", pyRepr(v))
		}
		if s.pattern != nil && !s.pattern.MatchString(x) {
			return fail("%s does not match %s", pyRepr(v), pyRepr(s.pattern.String()))
		}
		if s.format == "ipv4" {
			if a, err := netip.ParseAddr(x); err != nil || !a.Is4() {
				return fail("%s is not a %s", pyRepr(v), pyRepr(s.format))
			}
		}
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			if s.min != nil && i < *s.min {
				return fail("%s is less than the minimum of %d", pyRepr(v), *s.min)
			}
			if s.max != nil && i > *s.max {
				return fail("%s is greater than the maximum of %d", pyRepr(v), *s.max)
			}
		}
	case []any:
		if len(x) < s.minItems {
			return fail("%s is too short", pyRepr(v))
		}
		if s.items != nil {
			for i, it := range x {
				if err := s.items.validate(it, append(slices.Clip(path), strconv.Itoa(i))); err != nil {
					return err
				}
			}
		}
		if s.unique {
			seen := map[string]bool{}
			for _, it := range x {
				k := pyRepr(it)
				if seen[k] {
					return fail("%s has non-unique elements", pyRepr(v))
				}
				seen[k] = true
			}
		}
	}
	if len(s.enum) > 0 && !slices.ContainsFunc(s.enum, func(e any) bool { return pyRepr(e) == pyRepr(v) }) {
		q := make([]string, len(s.enum))
		for i, e := range s.enum {
			q[i] = pyRepr(e)
		}
		return fail("%s is not one of [%s]", pyRepr(v), strings.Join(q, ", "))
	}
	return nil
}

// isType is draft 4's type test: an integer is a number literal without
// fraction or exponent (Python's json gives those as float), and a
// boolean is never an integer.
func isType(v any, t string) bool {
	switch t {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "null":
		return v == nil
	case "integer":
		n, ok := v.(json.Number)
		return ok && !strings.ContainsAny(string(n), ".eE")
	case "number":
		_, ok := v.(json.Number)
		return ok
	}
	return false
}

// pyRepr renders v as Python's repr of the json.loads result, which is
// how jsonschema quotes values in its messages.
func pyRepr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case json.Number:
		if strings.ContainsAny(string(x), ".eE") {
			if f, err := x.Float64(); err == nil {
				return strconv.FormatFloat(f, 'g', -1, 64)
			}
		}
		return string(x)
	case string:
		q := "'"
		if strings.Contains(x, "'") && !strings.Contains(x, `"`) {
			q = `"`
		}
		var b strings.Builder
		b.WriteString(q)
		for _, r := range x {
			switch {
			case r == '\\':
				b.WriteString(`\\`)
			case string(r) == q:
				b.WriteString(`\` + q)
			case r == '\n':
				b.WriteString(`\n`)
			case r == '\t':
				b.WriteString(`\t`)
			case r == '\r':
				b.WriteString(`\r`)
			case r < 0x20 || r == 0x7f:
				fmt.Fprintf(&b, `\x%02x`, r)
			default:
				b.WriteRune(r)
			}
		}
		b.WriteString(q)
		return b.String()
	case []any:
		p := make([]string, len(x))
		for i, e := range x {
			p[i] = pyRepr(e)
		}
		return "[" + strings.Join(p, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys) // guess: Python keeps insertion order; Go maps have none
		p := make([]string, len(keys))
		for i, k := range keys {
			p[i] = pyRepr(k) + ": " + pyRepr(x[k])
		}
		return "{" + strings.Join(p, ", ") + "}"
	}
	return fmt.Sprint(v)
}

// pyStr is Python's str(): strings bare, everything else as repr.
func pyStr(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return pyRepr(v)
}
