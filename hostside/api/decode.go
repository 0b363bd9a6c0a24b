package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// maxBody bounds a request body; the largest real one (a create with
// many disks and comments) is a few KiB.
const maxBody = 1 << 20

// readJSON reads and parses a request body as the original's
// util.extract_json does, keeping numbers as json.Number so that the
// schema can tell 1 from 1.0. An empty body is malformed JSON.
func readJSON(r *http.Request) (any, *Error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, bodyReadError(err)
	}
	if len(b) > maxBody {
		return nil, wsgiError(http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", maxBody))
	}
	return parseJSON(b)
}

// readOptionalJSON is readJSON where an empty body is nil.
func readOptionalJSON(r *http.Request) (any, *Error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, bodyReadError(err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	if len(b) > maxBody {
		return nil, wsgiError(http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", maxBody))
	}
	return parseJSON(b)
}

// parseJSON decodes one JSON value; trailing garbage is an error.
func parseJSON(b []byte) (any, *Error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	if err == nil {
		if _, e2 := d.Token(); !errors.Is(e2, io.EOF) {
			err = errors.New("extra data after the JSON value")
		}
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("no JSON value")
		}
		// guess: the original quotes Python's json error text here.
		return nil, wsgiError(http.StatusBadRequest, "Malformed JSON: "+err.Error())
	}
	return v, nil
}

// checkBody validates v with s and returns it as an object.
func checkBody(s *schema, v any) (map[string]any, *Error) {
	if err := s.validate(v, nil); err != nil {
		return nil, validationError(err.detail())
	}
	m, _ := v.(map[string]any)
	return m, nil
}

// Accessors for validated bodies: the schema has checked the types, so
// these only convert. The original passes strings for booleans through
// util.bool_from_string and integers given as digit strings along.

func getStr(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func getObj(m map[string]any, k string) map[string]any {
	o, _ := m[k].(map[string]any)
	return o
}

func getList(m map[string]any, k string) []any {
	l, _ := m[k].([]any)
	return l
}

func getStrList(m map[string]any, k string) []string {
	var out []string
	for _, v := range getList(m, k) {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// getBool is util.bool_from_string on a schema-checked value.
func getBool(m map[string]any, k string) bool {
	switch v := m[k].(type) {
	case bool:
		return v
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "1", "t", "true", "on", "y", "yes":
			return true
		}
	}
	return false
}

// getInt converts an integer or digit string; the error names the field.
func getInt(m map[string]any, k string) (int, *Error) {
	var s string
	switch v := m[k].(type) {
	case nil:
		return 0, nil
	case json.Number:
		s = string(v)
	case string:
		if v == "" {
			return 0, inputError(fmt.Sprintf("%s must be an integer, not an empty string", k))
		}
		s = v
	default:
		return 0, inputError(fmt.Sprintf("%s must be an integer", k))
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, inputError(fmt.Sprintf("%s %q is not an integer in range", k, s))
	}
	return int(n), nil
}
