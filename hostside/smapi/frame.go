package smapi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Frame limits. SMAPI itself bounds the fields (userid 0..8, password
// 0..200, target 1..8 or 1..64); MaxFrame bounds what a reader allocates.
const (
	MaxFunction = 64
	MaxUserID   = 8
	MaxPassword = 200
	MaxTarget   = 64
	MaxFrame    = 16 << 20
)

// ErrFrame marks a malformed request or response frame.
var ErrFrame = errors.New("smapi: malformed frame")

// Request is one SMAPI request. Params holds the function-specific
// parameter bytes, built with a Params builder.
type Request struct {
	Function string
	UserID   string
	Password string
	Target   string
	Params   []byte
}

// String describes the request without its password.
func (r Request) String() string {
	return fmt.Sprintf("%s target %s (user %q, %d parameter bytes)", r.Function, r.Target, r.UserID, len(r.Params))
}

// Encode returns the request frame.
func (r Request) Encode() []byte {
	var p Params
	p.String(r.Function)
	p.String(r.UserID)
	p.String(r.Password)
	p.String(r.Target)
	body := append(p.Bytes(), r.Params...)
	out := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	return append(out, body...)
}

// ReadRequest reads one request frame from r, as a SMAPI server does.
func ReadRequest(r io.Reader) (Request, error) {
	body, err := readSized(r)
	if err != nil {
		return Request{}, fmt.Errorf("read request: %w", err)
	}
	return DecodeRequest(body)
}

// DecodeRequest parses a request frame body (the bytes after the total
// length).
func DecodeRequest(body []byte) (Request, error) {
	p := NewParamReader(body)
	var q Request
	fields := []struct {
		dst *string
		max int
		nm  string
	}{{&q.Function, MaxFunction, "function name"}, {&q.UserID, MaxUserID, "userid"}, {&q.Password, MaxPassword, "password"}, {&q.Target, MaxTarget, "target identifier"}}
	for _, f := range fields {
		s, err := p.String()
		if err != nil {
			return Request{}, fmt.Errorf("request %s: %w", f.nm, err)
		}
		if len(s) > f.max {
			return Request{}, fmt.Errorf("request %s: %d bytes, at most %d: %w", f.nm, len(s), f.max, ErrFrame)
		}
		*f.dst = s
	}
	if q.Function == "" {
		return Request{}, fmt.Errorf("request: empty function name: %w", ErrFrame)
	}
	q.Params = p.Rest()
	return q, nil
}

// Response is one SMAPI reply.
type Response struct {
	RequestID uint32
	RC        int32
	RS        int32
	Data      []byte
}

// EncodeOutput returns the output part of a reply (length, request id,
// rc, rs, data); the request id sent first is not included.
func (r Response) EncodeOutput() []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(12+len(r.Data)))
	out = binary.BigEndian.AppendUint32(out, r.RequestID)
	out = binary.BigEndian.AppendUint32(out, uint32(r.RC))
	out = binary.BigEndian.AppendUint32(out, uint32(r.RS))
	return append(out, r.Data...)
}

// WriteRequestID sends the immediate request id.
func WriteRequestID(w io.Writer, id uint32) error {
	_, err := w.Write(binary.BigEndian.AppendUint32(nil, id))
	return err
}

// ReadRequestID reads the immediate request id.
func ReadRequestID(r io.Reader) (uint32, error) {
	var b [4]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, fmt.Errorf("read request id: %w", err)
	}
	return binary.BigEndian.Uint32(b[:]), nil
}

// ReadOutput reads the output part of a reply.
func ReadOutput(r io.Reader) (Response, error) {
	body, err := readSized(r)
	if err != nil {
		return Response{}, fmt.Errorf("read output: %w", err)
	}
	return DecodeOutput(body)
}

// DecodeOutput parses the bytes after the output length.
func DecodeOutput(body []byte) (Response, error) {
	if len(body) < 12 {
		return Response{}, fmt.Errorf("output of %d bytes, shorter than request id, rc and rs: %w", len(body), ErrFrame)
	}
	return Response{
		RequestID: binary.BigEndian.Uint32(body),
		RC:        int32(binary.BigEndian.Uint32(body[4:])),
		RS:        int32(binary.BigEndian.Uint32(body[8:])),
		Data:      body[12:],
	}, nil
}

func readSized(r io.Reader) ([]byte, error) {
	var b [4]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(b[:])
	if n > MaxFrame {
		return nil, fmt.Errorf("length %d above %d: %w", n, MaxFrame, ErrFrame)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return body, nil
}
