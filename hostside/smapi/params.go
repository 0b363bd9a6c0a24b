package smapi

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Params builds a function's parameter bytes.
type Params struct{ b []byte }

// Bytes returns what was built.
func (p *Params) Bytes() []byte { return p.b }

// String appends an int32 length and the bytes of s.
func (p *Params) String(s string) *Params {
	p.b = binary.BigEndian.AppendUint32(p.b, uint32(len(s)))
	p.b = append(p.b, s...)
	return p
}

// Byte appends one byte (SMAPI's 1-byte integer fields).
func (p *Params) Byte(v byte) *Params { p.b = append(p.b, v); return p }

// Int appends a big-endian int32.
func (p *Params) Int(v int32) *Params {
	p.b = binary.BigEndian.AppendUint32(p.b, uint32(v))
	return p
}

// Array appends an array of strings: the int32 total length of the
// entries, then each entry as an int32 length and its bytes.
func (p *Params) Array(items []string) *Params {
	total := 0
	for _, s := range items {
		total += 4 + len(s)
	}
	p.Int(int32(total))
	for _, s := range items {
		p.String(s)
	}
	return p
}

// Keywords appends the keyword area of the newer APIs: the int32 total
// length, then each "key=value" NUL-terminated.
func (p *Params) Keywords(kv ...string) *Params {
	total := 0
	for _, s := range kv {
		total += len(s) + 1
	}
	p.Int(int32(total))
	for _, s := range kv {
		p.b = append(p.b, s...)
		p.b = append(p.b, 0)
	}
	return p
}

// Terminated appends NUL-terminated "key=value" strings with no length
// in front (the layout of Virtual_Network_Vswitch_Set_Extended).
func (p *Params) Terminated(kv ...string) *Params {
	for _, s := range kv {
		p.b = append(p.b, s...)
		p.b = append(p.b, 0)
	}
	return p
}

// ParamReader reads parameter or output bytes in the layouts Params
// writes. Every method fails with ErrFrame on short or oversized input.
type ParamReader struct {
	b   []byte
	off int
}

// NewParamReader reads b.
func NewParamReader(b []byte) *ParamReader { return &ParamReader{b: b} }

// Rest returns the unread bytes.
func (r *ParamReader) Rest() []byte { return r.b[r.off:] }

// Done reports whether everything was read.
func (r *ParamReader) Done() bool { return r.off >= len(r.b) }

// Int reads a big-endian int32.
func (r *ParamReader) Int() (int32, error) {
	if len(r.b)-r.off < 4 {
		return 0, fmt.Errorf("int32 at offset %d: %d bytes left: %w", r.off, len(r.b)-r.off, ErrFrame)
	}
	v := int32(binary.BigEndian.Uint32(r.b[r.off:]))
	r.off += 4
	return v, nil
}

// Byte reads one byte.
func (r *ParamReader) Byte() (byte, error) {
	if r.off >= len(r.b) {
		return 0, fmt.Errorf("byte at offset %d: end of data: %w", r.off, ErrFrame)
	}
	v := r.b[r.off]
	r.off++
	return v, nil
}

// String reads an int32 length and that many bytes.
func (r *ParamReader) String() (string, error) {
	b, err := r.sized()
	return string(b), err
}

func (r *ParamReader) sized() ([]byte, error) {
	at := r.off
	n, err := r.Int()
	if err != nil {
		return nil, err
	}
	if n < 0 || int(n) > len(r.b)-r.off {
		r.off = at
		return nil, fmt.Errorf("field at offset %d: length %d, %d bytes left: %w", at, n, len(r.b)-r.off-4, ErrFrame)
	}
	v := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return v, nil
}

// Array reads an array written by Params.Array.
func (r *ParamReader) Array() ([]string, error) {
	area, err := r.sized()
	if err != nil {
		return nil, err
	}
	sub := NewParamReader(area)
	var out []string
	for !sub.Done() {
		s, err := sub.String()
		if err != nil {
			return nil, fmt.Errorf("array entry %d: %w", len(out), err)
		}
		out = append(out, s)
	}
	return out, nil
}

// Keywords reads a keyword area into a map and the keys in order. An
// entry without "=" or without its NUL is malformed.
func (r *ParamReader) Keywords() (map[string]string, []string, error) {
	area, err := r.sized()
	if err != nil {
		return nil, nil, err
	}
	return parseKeywords(area)
}

// Terminated reads the rest as NUL-terminated "key=value" strings (see
// Params.Terminated) into a map and the keys in order.
func (r *ParamReader) Terminated() (map[string]string, []string, error) {
	area := r.b[r.off:]
	r.off = len(r.b)
	return parseKeywords(area)
}

// parseKeywords splits NUL-terminated "key=value" entries into a map and
// the keys in their first order. An entry without "=" or without its NUL
// is malformed.
func parseKeywords(area []byte) (map[string]string, []string, error) {
	m := map[string]string{}
	var keys []string
	for len(area) > 0 {
		i := bytes.IndexByte(area, 0)
		if i < 0 {
			return nil, nil, fmt.Errorf("keyword %q without its NUL: %w", area, ErrFrame)
		}
		kv := string(area[:i])
		area = area[i+1:]
		k, v, ok := cut(kv)
		if !ok {
			return nil, nil, fmt.Errorf("keyword entry %q without '=': %w", kv, ErrFrame)
		}
		if _, dup := m[k]; !dup {
			keys = append(keys, k)
		}
		m[k] = v
	}
	return m, keys, nil
}

func cut(kv string) (string, string, bool) {
	i := bytes.IndexByte([]byte(kv), '=')
	if i <= 0 {
		return "", "", false
	}
	return kv[:i], kv[i+1:], true
}
