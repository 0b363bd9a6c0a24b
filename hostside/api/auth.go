package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// AuthClosedToken is what POST /token answers when auth is off
// (zvmsdk/sdkwsgi/handlers/tokens.py).
const AuthClosedToken = "server-auth-closed"

// DefaultTokenValidity is [wsgi] token_validation_period's default.
const DefaultTokenValidity = 3600 * time.Second

// Auth is token mode: POST /token exchanges the admin token (header
// X-Admin-Token) for a JWT signed HS256 with the admin token that expires
// after Validity; every other route then needs it in X-Auth-Token. A nil
// *Auth is auth = none.
type Auth struct {
	// AdminToken returns the current admin token. It is called for
	// every request, so that a rotated token file takes effect as in
	// the original (which re-reads token_path each time).
	AdminToken func() ([]byte, error)
	Validity   time.Duration    // 0: DefaultTokenValidity
	Now        func() time.Time // nil: time.Now
}

var (
	errTokenMalformed = errors.New("token malformed")
	errTokenSignature = errors.New("token signature invalid")
	errTokenExpired   = errors.New("token expired")
)

var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

func (a *Auth) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// issue checks admin against the admin token and returns a signed token.
func (a *Auth) issue(admin string) (string, error) {
	key, err := a.AdminToken()
	if err != nil {
		return "", fmt.Errorf("reading the admin token: %w", err)
	}
	if len(key) == 0 || subtle.ConstantTimeCompare([]byte(admin), key) != 1 {
		return "", errors.New("X-Admin-Token does not match the admin token")
	}
	v := a.Validity
	if v <= 0 {
		v = DefaultTokenValidity
	}
	payload, _ := json.Marshal(struct {
		Exp int64 `json:"exp"`
	}{a.now().Add(v).Unix()})
	signing := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(payload)
	return signing + "." + sign(key, signing), nil
}

func sign(key []byte, s string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verify checks a token's algorithm, signature and expiry.
func (a *Auth) verify(tok string) error {
	key, err := a.AdminToken()
	if err != nil {
		return fmt.Errorf("reading the admin token: %w", err)
	}
	if err := verifyJWT(key, tok, a.now()); err != nil {
		return err
	}
	return a.checkExp(tok)
}

var (
	errTokenNoExp     = errors.New("token has no exp claim")
	errTokenTooLong   = errors.New("token exp lies further ahead than the token validity period")
	tokenClockSkewMax = 60 * time.Second
)

// checkExp is stricter than PyJWT: a token signed with the admin token
// but without exp would never expire, and one with an exp further ahead
// than the validity period was not issued by this daemon. Both are
// refused. tok's signature and form are already checked.
func (a *Auth) checkExp(tok string) error {
	parts := strings.Split(tok, ".")
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return errTokenMalformed
	}
	var pl struct {
		Exp *json.Number `json:"exp"`
	}
	if json.Unmarshal(pb, &pl) != nil {
		return errTokenMalformed
	}
	if pl.Exp == nil {
		return errTokenNoExp
	}
	exp, err := pl.Exp.Float64()
	if err != nil {
		return errTokenMalformed
	}
	v := a.Validity
	if v <= 0 {
		v = DefaultTokenValidity
	}
	if exp > float64(a.now().Add(v+tokenClockSkewMax).Unix()) {
		return errTokenTooLong
	}
	return nil
}

// verifyJWT is the HS256 check PyJWT's decode(..., algorithms="HS256")
// makes: header alg HS256, signature, and exp (if present) in the future.
func verifyJWT(key []byte, tok string, now time.Time) error {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return errTokenMalformed
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return errTokenMalformed
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(hb, &h) != nil || h.Alg != "HS256" {
		return errTokenMalformed
	}
	if !hmac.Equal([]byte(sign(key, parts[0]+"."+parts[1])), []byte(parts[2])) {
		return errTokenSignature
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return errTokenMalformed
	}
	var pl struct {
		Exp *json.Number `json:"exp"`
	}
	if json.Unmarshal(pb, &pl) != nil {
		return errTokenMalformed
	}
	if pl.Exp != nil {
		exp, err := pl.Exp.Float64()
		if err != nil {
			return errTokenMalformed
		}
		if float64(now.Unix()) >= exp {
			return errTokenExpired
		}
	}
	return nil
}
