package daemon

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// CheckListen is the listen policy: a loopback address may serve plain
// HTTP with auth = none (nova on the same host, or a TLS proxy in
// front); any other address needs TLS (tls_cert + tls_key) and token
// auth, since the API creates and deletes guests and carries the admin
// token.
func (c *Config) CheckListen() error {
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf(`"listen" %q: %w`, c.Listen, err)
	}
	if isLoopback(host) {
		return nil
	}
	var missing []string
	if c.TLSCert == "" || c.TLSKey == "" {
		missing = append(missing, `"tls_cert" and "tls_key"`)
	}
	if c.Auth != "token" {
		missing = append(missing, `"auth": "token" (with "token_path")`)
	}
	if len(missing) == 0 {
		return nil
	}
	where := host
	if where == "" {
		where = "every interface"
	}
	return fmt.Errorf(`refusing to listen on %s ("listen" %q is not a loopback address) without TLS and token auth: set %s, or listen on 127.0.0.1`,
		where, c.Listen, strings.Join(missing, " and "))
}

// isLoopback accepts loopback IP literals and "localhost"; any other
// name could resolve anywhere.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
