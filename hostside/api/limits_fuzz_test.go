package api

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzCheckName: a name passes only if a backend can make a file name
// of it, and a refusal names the field.
func FuzzCheckName(f *testing.F) {
	for _, s := range []string{"img", "a\x00b", "..", "a/b", strings.Repeat("n", 300), "\xff", "ok-name_1.2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := checkName("image_name", s)
		if e == nil {
			if s == "" || len(s) > 255 || !utf8.ValidString(s) || strings.ContainsAny(s, "/\\\x00\n") || s == "." || s == ".." {
				t.Fatalf("%q passed", s)
			}
			return
		}
		if statusFor(e, nil) != 400 || !strings.Contains(e.Msg, "image_name") {
			t.Fatalf("%q: %+v", s, e)
		}
	})
}

// FuzzVerifyToken: no token, however malformed, panics or passes
// without a valid signature and a bounded exp.
func FuzzVerifyToken(f *testing.F) {
	a := &Auth{AdminToken: func() ([]byte, error) { return []byte("k"), nil }, Now: func() time.Time { return time.Unix(1_800_000_000, 0) }}
	good, _ := a.issue("k")
	f.Add(good)
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.x")
	f.Fuzz(func(t *testing.T, tok string) {
		if a.verify(tok) == nil && tok != good {
			// another valid token needs the key: only re-encodings of
			// good's parts could pass, which base64url forbids.
			parts := strings.Split(tok, ".")
			if len(parts) != 3 || sign([]byte("k"), parts[0]+"."+parts[1]) != parts[2] {
				t.Fatalf("%q verified", tok)
			}
		}
	})
}
