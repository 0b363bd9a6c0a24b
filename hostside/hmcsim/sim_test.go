package hmcsim

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

const (
	z14File   = "../../testdata/hmc/dpm-z14.yaml"
	z13File   = "../../testdata/hmc/dpm-z13.yaml"
	z14CPC    = "1f5b4c7e-0a4a-4c1a-9f1e-5a0c2b7d9e01"
	z14VS0    = "/api/virtual-switches/5e000001-0000-4000-8000-000000000001"
	z14VS1    = "/api/virtual-switches/5e000002-0000-4000-8000-000000000002"
	z14HIPVS  = "/api/virtual-switches/5e000005-0000-4000-8000-000000000005"
	z14SG1    = "/api/storage-groups/56000001-0000-4000-8000-000000000001"
	z14Vol1   = "/api/storage-groups/56000001-0000-4000-8000-000000000001/storage-volumes/5f000001-0000-4000-8000-000000000001"
	z13CPC    = "0e3c2b1a-0000-3000-8000-0000000000d3"
	z13LPAR   = "0e3c2b1a-0000-3000-8000-0000000000a1"
	z13VS0    = "/api/virtual-switches/5d000001-0000-4000-8000-000000000001"
	z13FCP    = "/api/adapters/bd000002-0000-4000-8000-000000000002"
	z13OSD    = "/api/adapters/bd000001-0000-4000-8000-000000000001"
	simUser   = "hmcuser"
	simPasswd = "hmcpass-sim"
)

type tc struct {
	t    testing.TB
	s    *Sim
	hc   *http.Client
	sess string
}

func start(t testing.TB, file string, o Options) *tc {
	t.Helper()
	o.Listen = "127.0.0.1:0"
	o.InventoryFile = file
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); s.Close() })
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.CertPool()}}}
	c := &tc{t: t, s: s, hc: hc}
	c.logon()
	return c
}

type resp struct {
	code int
	hdr  http.Header
	body map[string]any
	raw  string
}

func (r resp) reason() int {
	f, _ := r.body["reason"].(float64)
	return int(f)
}

func (c *tc) do(method, path string, body any) resp {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	rq, _ := http.NewRequest(method, c.s.URL()+path, rd)
	rq.Header.Set("Content-Type", "application/json")
	if c.sess != "" {
		rq.Header.Set("X-API-Session", c.sess)
	}
	rs, err := c.hc.Do(rq)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer rs.Body.Close()
	b, _ := io.ReadAll(rs.Body)
	r := resp{code: rs.StatusCode, hdr: rs.Header, raw: string(b)}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &r.body); err != nil {
			c.t.Fatalf("%s %s: body %q: %v", method, path, b, err)
		}
	}
	return r
}

// ok expects status want.
func (c *tc) ok(want int, method, path string, body any) resp {
	c.t.Helper()
	r := c.do(method, path, body)
	if r.code != want {
		c.t.Fatalf("%s %s: got %d %s, want %d", method, path, r.code, r.raw, want)
	}
	return r
}

// fail expects an error status/reason with a well-formed error body.
func (c *tc) fail(status, reason int, method, path string, body any) resp {
	c.t.Helper()
	r := c.do(method, path, body)
	if r.code != status || r.reason() != reason {
		c.t.Fatalf("%s %s: got %d %s, want %d reason %d", method, path, r.code, r.raw, status, reason)
	}
	if hs, _ := r.body["http-status"].(float64); int(hs) != status {
		c.t.Fatalf("%s %s: http-status %v", method, path, r.body["http-status"])
	}
	if r.body["request-method"] != method || !strings.HasPrefix(r.body["request-uri"].(string), strings.SplitN(path, "?", 2)[0]) {
		c.t.Fatalf("%s %s: request fields %v %v", method, path, r.body["request-method"], r.body["request-uri"])
	}
	if m, _ := r.body["message"].(string); m == "" {
		c.t.Fatalf("%s %s: no message", method, path)
	}
	return r
}

func (c *tc) logon() {
	c.t.Helper()
	c.sess = ""
	r := c.ok(200, "POST", "/api/sessions", map[string]any{"userid": simUser, "password": simPasswd})
	c.sess = r.body["api-session"].(string)
}

func (c *tc) createPartition(cpcID, name string) string {
	c.t.Helper()
	r := c.ok(201, "POST", "/api/cpcs/"+cpcID+"/partitions", map[string]any{
		"name": name, "description": "test", "ifl-processors": 2, "initial-memory": 4096, "maximum-memory": 4096})
	uri := r.body["object-uri"].(string)
	if r.hdr.Get("Location") != uri {
		c.t.Fatalf("Location %q, object-uri %q", r.hdr.Get("Location"), uri)
	}
	return uri
}

func (c *tc) status(p string) string {
	c.t.Helper()
	return c.ok(200, "GET", p+"?properties=status", nil).body["status"].(string)
}

// waitJob polls a job until it ends and deletes it.
func (c *tc) waitJob(uri string) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		r := c.ok(200, "GET", uri, nil)
		if r.body["status"] == "complete" {
			c.ok(204, "DELETE", uri, nil)
			c.fail(404, 1, "GET", uri, nil)
			return r.body
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.t.Fatalf("job %s did not complete", uri)
	return nil
}

func (c *tc) waitStatus(p, want string) {
	c.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if c.status(p) == want {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.t.Fatalf("%s: status %s, want %s", p, c.status(p), want)
}

func (c *tc) startPartition(p string) {
	c.t.Helper()
	r := c.ok(202, "POST", p+"/operations/start", nil)
	j := c.waitJob(r.body["job-uri"].(string))
	if j["job-status-code"].(float64) != 200 {
		c.t.Fatalf("start job: %v", j)
	}
	c.waitStatus(p, "active")
}

func (c *tc) stopPartition(p string) {
	c.t.Helper()
	r := c.ok(202, "POST", p+"/operations/stop", nil)
	c.waitJob(r.body["job-uri"].(string))
	c.waitStatus(p, "stopped")
}

func TestTLSAndVersion(t *testing.T) {
	c := start(t, z14File, Options{})
	if !strings.HasPrefix(c.s.URL(), "https://127.0.0.1:") {
		t.Fatal(c.s.URL())
	}
	// An unverified client must fail: the certificate is self-signed.
	if _, err := http.Get(c.s.URL() + "/api/version"); err == nil {
		t.Fatal("plain client accepted the self-signed certificate")
	}
	// localhost is a SAN too.
	port := c.s.URL()[strings.LastIndex(c.s.URL(), ":"):]
	rs, err := c.hc.Get("https://localhost" + port + "/api/version")
	if err != nil {
		t.Fatal(err)
	}
	rs.Body.Close()
	c.sess = ""
	r := c.ok(200, "GET", "/api/version", nil)
	if r.body["api-major-version"].(float64) != 2 || r.body["api-minor-version"].(float64) != 20 || r.body["hmc-name"] != "HMCSIM1" {
		t.Fatal(r.raw)
	}
	if !bytes.Contains(c.s.CACertPEM(), []byte("BEGIN CERTIFICATE")) {
		t.Fatal("no PEM")
	}
}

func TestSessions(t *testing.T) {
	c := start(t, z14File, Options{})
	good := c.sess
	c.sess = ""
	c.fail(403, 4, "GET", "/api/cpcs", nil)
	c.fail(403, 0, "POST", "/api/sessions", map[string]any{"userid": simUser, "password": "wrong"})
	c.fail(400, 5, "POST", "/api/sessions", map[string]any{"userid": simUser})
	c.fail(400, 3, "POST", "/api/sessions", nil)
	c.sess = "bogus"
	c.fail(403, 5, "GET", "/api/cpcs", nil)
	c.sess = good
	c.ok(200, "GET", "/api/cpcs", nil)
	r := c.ok(200, "POST", "/api/sessions", map[string]any{"userid": simUser, "password": simPasswd})
	for _, k := range []string{"api-session", "notification-topic", "job-notification-topic", "api-major-version", "api-minor-version", "password-expires", "session-credential"} {
		if _, ok := r.body[k]; !ok {
			t.Errorf("logon response lacks %s", k)
		}
	}
	if c.s.SessionCount() != 2 {
		t.Fatal(c.s.SessionCount())
	}
	c.ok(204, "DELETE", "/api/sessions/this-session", nil)
	c.fail(403, 5, "GET", "/api/cpcs", nil)
	c.logon()
	c.s.ExpireSessions()
	c.fail(403, 5, "GET", "/api/cpcs", nil)
	c.logon()
	c.ok(200, "GET", "/api/cpcs", nil)
	// Idle expiry.
	c.s.SetSessionIdle(30 * time.Millisecond)
	c.ok(200, "GET", "/api/cpcs", nil)
	time.Sleep(60 * time.Millisecond)
	c.fail(403, 5, "GET", "/api/cpcs", nil)
	c.logon()
	c.ok(200, "GET", "/api/cpcs", nil)
	// Metrics context (golang-zhmcclient creates one at logon).
	c.ok(200, "POST", "/api/services/metrics/context", map[string]any{"anticipated-frequency-seconds": 15})
}

func TestCPCsAdaptersVSwitches(t *testing.T) {
	c := start(t, z14File, Options{})
	r := c.ok(200, "GET", "/api/cpcs", nil)
	cpcs := r.body["cpcs"].([]any)
	if len(cpcs) != 1 || cpcs[0].(map[string]any)["object-uri"] != "/api/cpcs/"+z14CPC {
		t.Fatal(r.raw)
	}
	if len(c.ok(200, "GET", "/api/cpcs?name=CPCZ1.", nil).body["cpcs"].([]any)) != 1 ||
		len(c.ok(200, "GET", "/api/cpcs?name=CPCZ1", nil).body["cpcs"].([]any)) != 0 {
		t.Fatal("name filter is not a full-match regex")
	}
	c.fail(400, 1, "GET", "/api/cpcs?bogus=1", nil)
	c.fail(400, 1, "GET", "/api/cpcs?name=(", nil)
	r = c.ok(200, "GET", "/api/cpcs/"+z14CPC, nil)
	if r.body["dpm-enabled"] != true || r.body["processor-count-ifl"].(float64) != 20 || r.body["se-version"] != "2.14.0" {
		t.Fatal(r.raw)
	}
	r = c.ok(200, "GET", "/api/cpcs/"+z14CPC+"?properties=name,status", nil)
	if len(r.body) != 5 || r.body["name"] != "CPCZ14" { // class, parent, object-uri, name, status
		t.Fatal(r.raw)
	}
	c.fail(400, 14, "GET", "/api/cpcs/"+z14CPC+"?properties=nope", nil)
	c.fail(404, 1, "GET", "/api/cpcs/nope", nil)
	c.fail(404, 1, "GET", "/api/nothing/here", nil)
	c.fail(405, 0, "PUT", "/api/cpcs", nil)

	r = c.ok(200, "GET", "/api/cpcs/"+z14CPC+"/adapters?type=fcp", nil)
	ads := r.body["adapters"].([]any)
	if len(ads) != 1 {
		t.Fatal(r.raw)
	}
	fcp := ads[0].(map[string]any)["object-uri"].(string)
	r = c.ok(200, "GET", fcp, nil)
	ports := r.body["storage-port-uris"].([]any)
	if r.body["type"] != "fcp" || len(ports) != 1 {
		t.Fatal(r.raw)
	}
	r = c.ok(200, "GET", ports[0].(string), nil)
	if r.body["class"] != "storage-port" || r.body["element-id"] != "0" {
		t.Fatal(r.raw)
	}
	c.fail(404, 1, "GET", fcp+"/storage-ports/1", nil)
	c.fail(404, 1, "GET", fcp+"/network-ports/0", nil)
	r = c.ok(200, "GET", "/api/cpcs/"+z14CPC+"/adapters?additional-properties=port-count", nil)
	if len(r.body["adapters"].([]any)) != 4 || r.body["adapters"].([]any)[0].(map[string]any)["port-count"] == nil {
		t.Fatal(r.raw)
	}

	r = c.ok(200, "GET", "/api/cpcs/"+z14CPC+"/virtual-switches?type=osd", nil)
	if len(r.body["virtual-switches"].([]any)) != 4 {
		t.Fatal(r.raw)
	}
	r = c.ok(200, "GET", z14VS1, nil)
	if r.body["port"].(float64) != 1 || r.body["type"] != "osd" || !strings.HasPrefix(r.body["backing-adapter-uri"].(string), "/api/adapters/") {
		t.Fatal(r.raw)
	}
	c.fail(404, 1, "GET", "/api/virtual-switches/nope", nil)

	// Storage groups.
	r = c.ok(200, "GET", "/api/storage-groups?cpc-uri=/api/cpcs/"+z14CPC, nil)
	if len(r.body["storage-groups"].([]any)) != 2 {
		t.Fatal(r.raw)
	}
	r = c.ok(200, "GET", z14SG1+"/storage-volumes", nil)
	if len(r.body["storage-volumes"].([]any)) != 1 {
		t.Fatal(r.raw)
	}
	r = c.ok(200, "GET", z14Vol1, nil)
	if r.body["usage"] != "boot" || r.body["uuid"] != "600507680C8080B11000000000000001" {
		t.Fatal(r.raw)
	}
	c.fail(404, 1, "GET", z14SG1+"/storage-volumes/nope", nil)
}

func TestNonDPMCPC(t *testing.T) {
	c := start(t, z13File, Options{})
	r := c.ok(200, "GET", "/api/cpcs/"+z13LPAR+"/partitions", nil)
	if len(r.body["partitions"].([]any)) != 0 {
		t.Fatal(r.raw)
	}
	c.fail(409, 5, "POST", "/api/cpcs/"+z13LPAR+"/partitions", map[string]any{"name": "x", "ifl-processors": 1, "initial-memory": 1024, "maximum-memory": 1024})
	if c.ok(200, "GET", "/api/cpcs/"+z13LPAR, nil).body["dpm-enabled"] != false {
		t.Fatal("dpm-enabled")
	}
}

func TestPartitionCRUD(t *testing.T) {
	c := start(t, z14File, Options{})
	base := "/api/cpcs/" + z14CPC + "/partitions"
	p := c.createPartition(z14CPC, "OpenStack-host1-0001")
	r := c.ok(200, "GET", p, nil)
	want := map[string]any{"status": "stopped", "boot-os-specific-parameters": "", "boot-device": "none",
		"type": "linux", "name": "OpenStack-host1-0001", "class": "partition", "parent": "/api/cpcs/" + z14CPC,
		"processor-mode": "shared", "initial-memory": 4096.0, "ifl-processors": 2.0}
	for k, v := range want {
		if r.body[k] != v {
			t.Errorf("%s = %v, want %v", k, r.body[k], v)
		}
	}
	if len(r.body["nic-uris"].([]any)) != 0 || r.body["object-uri"] != p {
		t.Fatal(r.raw)
	}
	// Unique names: the real message.
	r = c.fail(400, 8, "POST", base, map[string]any{"name": "OpenStack-host1-0001", "ifl-processors": 1, "initial-memory": 1024, "maximum-memory": 1024})
	if r.body["message"] != msgNotUnique {
		t.Fatal(r.raw)
	}
	// Validation.
	c.fail(400, 5, "POST", base, map[string]any{"name": "a", "initial-memory": 1024, "maximum-memory": 1024})
	c.fail(400, 5, "POST", base, map[string]any{"name": "a", "ifl-processors": 1, "maximum-memory": 1024})
	c.fail(400, 6, "POST", base, map[string]any{"name": "a", "ifl-processors": 1, "initial-memory": 1024, "maximum-memory": 1024, "boot-os-specific-parameters": "x"})
	c.fail(400, 6, "POST", base, map[string]any{"name": "a", "ifl-processors": 1, "initial-memory": 1024, "maximum-memory": 1024, "status": "active"})
	c.fail(400, 7, "POST", base, map[string]any{"name": strings.Repeat("n", 65), "ifl-processors": 1, "initial-memory": 1024, "maximum-memory": 1024})
	c.fail(400, 7, "POST", base, map[string]any{"name": "", "ifl-processors": 1, "initial-memory": 1024, "maximum-memory": 1024})
	c.fail(400, 7, "POST", base, map[string]any{"name": "a", "ifl-processors": "1", "initial-memory": 1024, "maximum-memory": 1024})
	c.fail(400, 7, "POST", base, map[string]any{"name": "a", "ifl-processors": 1.5, "initial-memory": 1024, "maximum-memory": 1024})
	c.fail(400, 7, "POST", base, map[string]any{"name": "a", "ifl-processors": 1, "initial-memory": 2048, "maximum-memory": 1024})
	c.fail(400, 7, "POST", base, map[string]any{"name": "a", "ifl-processors": 99, "initial-memory": 1024, "maximum-memory": 1024})
	c.fail(400, 3, "POST", base, nil)
	c.fail(400, 2, "POST", base, "[1,2]")
	c.fail(400, 2, "POST", base, "{")
	c.ok(201, "POST", base, map[string]any{"name": strings.Repeat("n", 64), "ifl-processors": 1, "initial-memory": 1024, "maximum-memory": 1024})

	// List with a name filter (regex, whole match).
	r = c.ok(200, "GET", base+"?name=OpenStack-host1-.*", nil)
	ps := r.body["partitions"].([]any)
	if len(ps) != 1 || ps[0].(map[string]any)["object-uri"] != p || ps[0].(map[string]any)["status"] != "stopped" {
		t.Fatal(r.raw)
	}
	if len(c.ok(200, "GET", base+"?name=OpenStack-host1", nil).body["partitions"].([]any)) != 0 {
		t.Fatal("prefix matched")
	}
	if len(c.ok(200, "GET", base, nil).body["partitions"].([]any)) != 2 {
		t.Fatal("list")
	}

	// Update.
	bosp := strings.Repeat("x", 256)
	c.ok(204, "POST", p, map[string]any{"boot-os-specific-parameters": bosp, "description": "d2"})
	r = c.ok(200, "GET", p+"?properties=boot-os-specific-parameters,description", nil)
	if r.body["boot-os-specific-parameters"] != bosp || r.body["description"] != "d2" {
		t.Fatal(r.raw)
	}
	c.fail(400, 7, "POST", p, map[string]any{"boot-os-specific-parameters": bosp + "y"})
	c.fail(400, 6, "POST", p, map[string]any{"object-id": "x"})
	c.fail(400, 6, "POST", p, map[string]any{"type": "ssc"})
	c.fail(400, 7, "POST", p, map[string]any{"boot-timeout": 10})
	c.fail(400, 7, "POST", p, map[string]any{"boot-device": "floppy"})
	c.fail(400, 7, "POST", p, map[string]any{"initial-memory": 8192})
	c.fail(400, 8, "POST", p, map[string]any{"name": strings.Repeat("n", 64)})
	c.ok(204, "POST", p, map[string]any{"name": "OpenStack-host1-0001"}) // own name is fine
	c.fail(400, 7, "POST", p, map[string]any{"boot-storage-volume": "/api/storage-groups/x/storage-volumes/y"})
	c.ok(204, "POST", p, map[string]any{"boot-device": "storage-volume", "boot-storage-volume": z14Vol1})
	c.fail(400, 7, "POST", p, map[string]any{"boot-storage-device": "/api/partitions/x/hbas/y"})

	// Delete.
	c.ok(204, "DELETE", p, nil)
	c.fail(404, 1, "GET", p, nil)
	c.fail(404, 1, "DELETE", p, nil)
	c.fail(404, 1, "POST", p, map[string]any{"description": "x"})
}

func TestNICs(t *testing.T) {
	c := start(t, z14File, Options{})
	p := c.createPartition(z14CPC, "nics")
	var uris []string
	for i := 0; i < 5; i++ {
		vs := z14VS0
		if i == 4 {
			vs = z14HIPVS
		}
		r := c.ok(201, "POST", p+"/nics", map[string]any{"name": fmt.Sprintf("OpenStack_Port_%d", i), "description": "OpenStack mac=02:00:00:00:00:0" + fmt.Sprint(i), "virtual-switch-uri": vs})
		u := r.body["element-uri"].(string)
		if r.hdr.Get("Location") != u || !strings.HasPrefix(u, p+"/nics/") {
			t.Fatal(r.raw, r.hdr)
		}
		uris = append(uris, u)
	}
	// Three device numbers per OSA/HiperSockets NIC, 4 upper-case hex digits.
	for i, want := range []string{"0001", "0004", "0007", "000A", "000D"} {
		r := c.ok(200, "GET", uris[i], nil)
		if r.body["device-number"] != want {
			t.Errorf("nic %d device-number %v, want %s", i, r.body["device-number"], want)
		}
		wantType := "osd"
		if i == 4 {
			wantType = "iqd"
		}
		if r.body["type"] != wantType || r.body["class"] != "nic" || r.body["parent"] != p || r.body["element-uri"] != uris[i] {
			t.Fatal(r.raw)
		}
		if mac := r.body["mac-address"].(string); !reMAC.MatchString(mac) || mac != strings.ToLower(mac) {
			t.Fatal(mac)
		}
	}
	r := c.ok(200, "GET", p, nil)
	if len(r.body["nic-uris"].([]any)) != 5 {
		t.Fatal(r.raw)
	}
	r = c.ok(200, "POST", z14VS0+"/operations/get-connected-vnics", nil)
	if len(r.body["connected-vnic-uris"].([]any)) != 4 {
		t.Fatal(r.raw)
	}
	// Explicit device numbers: lower case accepted and stored upper case; clash refused.
	r = c.ok(201, "POST", p+"/nics", map[string]any{"name": "explicit", "virtual-switch-uri": z14VS1, "device-number": "00fa", "mac-address": "02:AA:BB:CC:DD:EE"})
	n := c.ok(200, "GET", r.body["element-uri"].(string), nil)
	if n.body["device-number"] != "00FA" || n.body["mac-address"] != "02:aa:bb:cc:dd:ee" {
		t.Fatal(n.raw)
	}
	c.fail(400, 8, "POST", p+"/nics", map[string]any{"name": "clash", "virtual-switch-uri": z14VS1, "device-number": "00FC"})
	c.fail(400, 8, "POST", p+"/nics", map[string]any{"name": "clash", "virtual-switch-uri": z14VS1, "device-number": "0002"})
	c.fail(400, 7, "POST", p+"/nics", map[string]any{"name": "bad", "virtual-switch-uri": z14VS1, "device-number": "12345"})
	c.fail(400, 7, "POST", p+"/nics", map[string]any{"name": "bad", "virtual-switch-uri": z14VS1, "mac-address": "02-00-00-00-00-01"})
	c.fail(400, 8, "POST", p+"/nics", map[string]any{"name": "explicit", "virtual-switch-uri": z14VS1})
	c.fail(400, 5, "POST", p+"/nics", map[string]any{"name": "novs"})
	c.fail(400, 5, "POST", p+"/nics", map[string]any{"virtual-switch-uri": z14VS1})
	c.fail(404, 2, "POST", p+"/nics", map[string]any{"name": "x", "virtual-switch-uri": "/api/virtual-switches/nope"})
	c.fail(404, 2, "POST", p+"/nics", map[string]any{"name": "x", "network-adapter-port-uri": "/api/adapters/x/network-ports/0"})
	c.fail(400, 6, "POST", p+"/nics", map[string]any{"name": "x", "virtual-switch-uri": z14VS1, "element-id": "x"})
	c.fail(404, 1, "POST", "/api/partitions/nope/nics", map[string]any{"name": "x", "virtual-switch-uri": z14VS1})

	// Update (mac-address writable on API 2.20) and delete.
	c.ok(204, "POST", uris[0], map[string]any{"mac-address": "02:00:00:00:00:99", "description": "new"})
	n = c.ok(200, "GET", uris[0]+"?properties=mac-address,description", nil)
	if n.body["mac-address"] != "02:00:00:00:00:99" || n.body["description"] != "new" {
		t.Fatal(n.raw)
	}
	c.fail(400, 6, "POST", uris[0], map[string]any{"virtual-switch-uri": z14VS1})
	c.fail(400, 8, "POST", uris[0], map[string]any{"name": "explicit"})
	c.ok(204, "POST", uris[1], map[string]any{"device-number": "0100"})
	c.ok(204, "DELETE", uris[0], nil)
	c.fail(404, 1, "GET", uris[0], nil)
	c.fail(404, 1, "DELETE", uris[0], nil)
	// The freed numbers are reused first.
	r = c.ok(201, "POST", p+"/nics", map[string]any{"name": "reuse", "virtual-switch-uri": z14VS0})
	if d := c.ok(200, "GET", r.body["element-uri"].(string), nil).body["device-number"]; d != "0001" {
		t.Fatal(d)
	}
	// The partition's NICs go with it.
	c.ok(204, "DELETE", p, nil)
	r = c.ok(200, "POST", z14VS0+"/operations/get-connected-vnics", nil)
	if len(r.body["connected-vnic-uris"].([]any)) != 0 {
		t.Fatal(r.raw)
	}
}

func TestMACReadOnlyBefore220(t *testing.T) {
	c := start(t, z13File, Options{})
	p := c.createPartition(z13CPC, "p")
	c.fail(400, 6, "POST", p+"/nics", map[string]any{"name": "n", "virtual-switch-uri": z13VS0, "mac-address": "02:00:00:00:00:01"})
	r := c.ok(201, "POST", p+"/nics", map[string]any{"name": "n", "virtual-switch-uri": z13VS0})
	c.fail(400, 6, "POST", r.body["element-uri"].(string), map[string]any{"mac-address": "02:00:00:00:00:01"})
}

func TestHBAs(t *testing.T) {
	c := start(t, z13File, Options{})
	p := c.createPartition(z13CPC, "hba")
	c.ok(201, "POST", p+"/nics", map[string]any{"name": "n", "virtual-switch-uri": z13VS0})
	r := c.ok(201, "POST", p+"/hbas", map[string]any{"name": "OpenStack_Port_x_0", "adapter-port-uri": z13FCP + "/storage-ports/0"})
	h := r.body["element-uri"].(string)
	if r.hdr.Get("Location") != h {
		t.Fatal(r.hdr)
	}
	r = c.ok(200, "GET", h, nil)
	if r.body["device-number"] != "0004" || len(r.body["wwpn"].(string)) != 16 || r.body["adapter-port-uri"] != z13FCP+"/storage-ports/0" {
		t.Fatal(r.raw)
	}
	if hs := c.ok(200, "GET", p, nil).body["hba-uris"].([]any); len(hs) != 1 || hs[0] != h {
		t.Fatal(hs)
	}
	c.fail(400, 8, "POST", p+"/hbas", map[string]any{"name": "OpenStack_Port_x_0", "adapter-port-uri": z13FCP + "/storage-ports/0"})
	c.fail(400, 8, "POST", p+"/hbas", map[string]any{"name": "d", "adapter-port-uri": z13FCP + "/storage-ports/0", "device-number": "0002"})
	c.fail(404, 2, "POST", p+"/hbas", map[string]any{"name": "y", "adapter-port-uri": "/api/adapters/nope/storage-ports/0"})
	c.fail(404, 6, "POST", p+"/hbas", map[string]any{"name": "y", "adapter-port-uri": z13FCP + "/storage-ports/3"})
	c.fail(400, 7, "POST", p+"/hbas", map[string]any{"name": "y", "adapter-port-uri": z13OSD + "/storage-ports/0"})
	c.fail(400, 5, "POST", p+"/hbas", map[string]any{"name": "y"})
	c.ok(204, "POST", p, map[string]any{"boot-device": "storage-adapter", "boot-storage-device": h,
		"boot-world-wide-port-name": "5005076802100001", "boot-logical-unit-number": "1"})
	c.ok(204, "POST", h, map[string]any{"description": "x"})
	c.fail(400, 6, "POST", p, map[string]any{"boot-storage-volume": "x"}) // no storage management on z13
	c.s.SetPartitionStatus(p, "starting")
	c.fail(409, 1, "POST", p+"/hbas", map[string]any{"name": "z", "adapter-port-uri": z13FCP + "/storage-ports/0"})
	c.fail(409, 1, "DELETE", h, nil)
	c.s.SetPartitionStatus(p, "stopped")
	c.ok(204, "DELETE", h, nil)
	c.fail(404, 1, "GET", h, nil)
	// HBAs do not exist on z14 with storage management.
	c2 := start(t, z14File, Options{})
	p2 := c2.createPartition(z14CPC, "hba")
	c2.fail(409, 1, "POST", p2+"/hbas", map[string]any{"name": "h", "adapter-port-uri": "/api/adapters/ad000004-0000-4000-8000-000000000004/storage-ports/0"})
}

func TestStorageGroupAttach(t *testing.T) {
	c := start(t, z14File, Options{})
	p := c.createPartition(z14CPC, "sg")
	c.ok(204, "POST", p+"/operations/attach-storage-group", map[string]any{"storage-group-uri": z14SG1})
	c.fail(409, 1, "POST", p+"/operations/attach-storage-group", map[string]any{"storage-group-uri": z14SG1})
	c.fail(404, 2, "POST", p+"/operations/attach-storage-group", map[string]any{"storage-group-uri": "/api/storage-groups/nope"})
	c.fail(400, 5, "POST", p+"/operations/attach-storage-group", map[string]any{})
	r := c.ok(200, "GET", p+"?properties=storage-group-uris", nil)
	if gs := r.body["storage-group-uris"].([]any); len(gs) != 1 || gs[0] != z14SG1 {
		t.Fatal(r.raw)
	}
	c.ok(204, "POST", p+"/operations/detach-storage-group", map[string]any{"storage-group-uri": z14SG1})
	c.fail(409, 1, "POST", p+"/operations/detach-storage-group", map[string]any{"storage-group-uri": z14SG1})
	c2 := start(t, z13File, Options{})
	p2 := c2.createPartition(z13CPC, "sg")
	c2.fail(409, 1, "POST", p2+"/operations/attach-storage-group", map[string]any{"storage-group-uri": z14SG1})
}

func TestStateMachineAndJobs(t *testing.T) {
	c := start(t, z14File, Options{JobDuration: 40 * time.Millisecond, DeferredStatus: 150 * time.Millisecond})
	p := c.createPartition(z14CPC, "sm")
	nic := c.ok(201, "POST", p+"/nics", map[string]any{"name": "n0", "virtual-switch-uri": z14VS0}).body["element-uri"].(string)
	// Stopped: stop refused, delete allowed later.
	c.fail(409, 1, "POST", p+"/operations/stop", nil)

	r := c.ok(202, "POST", p+"/operations/start", nil)
	job := r.body["job-uri"].(string)
	if !strings.HasPrefix(job, "/api/jobs/") {
		t.Fatal(r.raw)
	}
	if c.status(p) != "starting" {
		t.Fatal(c.status(p))
	}
	if j := c.ok(200, "GET", job, nil).body; j["status"] != "running" || j["job-status-code"] != nil {
		t.Fatal(j)
	}
	c.fail(409, 40, "DELETE", job, nil)
	c.fail(409, 43, "POST", job+"/operations/cancel", nil)
	// Starting: NIC changes, start, stop and delete refused.
	c.fail(409, 1, "POST", p+"/nics", map[string]any{"name": "n1", "virtual-switch-uri": z14VS0})
	c.fail(409, 1, "POST", nic, map[string]any{"description": "x"})
	c.fail(409, 1, "DELETE", nic, nil)
	c.fail(409, 1, "POST", p+"/operations/start", nil)
	c.fail(409, 1, "POST", p+"/operations/stop", nil)
	c.fail(409, 1, "DELETE", p, nil)
	// Deferred status: the job completes while the partition is still starting.
	time.Sleep(50 * time.Millisecond)
	j := c.ok(200, "GET", job, nil).body
	if j["status"] != "complete" || j["job-status-code"].(float64) != 200 || j["job-results"] != nil {
		t.Fatal(j)
	}
	if _, ok := j["job-reason-code"]; ok {
		t.Fatal("job-reason-code on success")
	}
	if c.status(p) != "starting" {
		t.Fatal("no deferred status:", c.status(p))
	}
	c.fail(409, 41, "POST", job+"/operations/cancel", nil)
	c.ok(204, "DELETE", job, nil)
	c.fail(404, 1, "DELETE", job, nil)
	c.waitStatus(p, "active")
	// Active: NIC changes allowed, update of boot parameters allowed, delete refused.
	c.ok(204, "POST", nic, map[string]any{"description": "x"})
	c.ok(204, "POST", p, map[string]any{"boot-os-specific-parameters": " 0001,0,020000000001;"})
	c.fail(409, 1, "DELETE", p, nil)
	c.fail(409, 1, "POST", p+"/operations/start", nil)
	// Guest shutdown → paused; start refused from paused; stop from paused works.
	if err := c.s.GuestShutdown("sm"); err != nil {
		t.Fatal(err)
	}
	if c.status(p) != "paused" {
		t.Fatal(c.status(p))
	}
	if err := c.s.GuestShutdown("sm"); err == nil {
		t.Fatal("guest shutdown of a paused partition")
	}
	c.fail(409, 1, "POST", p+"/operations/start", nil)
	r = c.ok(202, "POST", p+"/operations/stop", nil)
	if c.status(p) != "stopping" {
		t.Fatal(c.status(p))
	}
	c.fail(409, 1, "DELETE", nic, nil)
	c.fail(409, 1, "POST", p+"/operations/stop", nil)
	c.waitJob(r.body["job-uri"].(string))
	if c.status(p) != "stopped" {
		t.Fatal(c.status(p))
	}
	// Stop from terminated and degraded; refused from reservation-error.
	for _, st := range []string{"terminated", "degraded"} {
		c.s.SetPartitionStatus(p, st)
		c.stopPartition(p)
	}
	c.s.SetPartitionStatus(p, "reservation-error")
	c.fail(409, 1, "POST", p+"/operations/stop", nil)
	c.fail(409, 1, "DELETE", p, nil)
	c.s.SetPartitionStatus(p, "stopped")
	c.ok(204, "DELETE", p, nil)
	if c.s.JobCount() != 0 {
		t.Fatal("jobs left", c.s.JobCount())
	}
	if err := c.s.SetPartitionStatus("gone", "active"); err == nil {
		t.Fatal("no error for a missing partition")
	}
}

func TestImmediateJobs(t *testing.T) {
	c := start(t, z14File, Options{})
	p := c.createPartition(z14CPC, "fast")
	r := c.ok(202, "POST", p+"/operations/start", nil)
	if c.status(p) != "active" {
		t.Fatal(c.status(p))
	}
	c.waitJob(r.body["job-uri"].(string))
	c.stopPartition(p)
}

func TestFailNextStart(t *testing.T) {
	c := start(t, z14File, Options{JobDuration: 10 * time.Millisecond})
	p := c.createPartition(z14CPC, "fail")
	c.s.FailNextStart(0, 0, "")
	r := c.ok(202, "POST", p+"/operations/start", nil)
	j := c.waitJob(r.body["job-uri"].(string))
	if j["job-status-code"].(float64) != FailStatus || j["job-reason-code"].(float64) != FailReason ||
		j["job-results"].(map[string]any)["message"] != FailMessage {
		t.Fatal(j)
	}
	if c.status(p) != "stopped" {
		t.Fatal(c.status(p))
	}
	// Only the next one fails.
	c.startPartition(p)
	c.stopPartition(p)
	// Custom codes and the admin endpoint.
	c.adminPost("/sim/fail-next-start", `{"status":409,"reason":1,"message":"nope","partition-status":"terminated"}`)
	r = c.ok(202, "POST", p+"/operations/start", nil)
	j = c.waitJob(r.body["job-uri"].(string))
	if j["job-status-code"].(float64) != 409 || j["job-reason-code"].(float64) != 1 || j["job-results"].(map[string]any)["message"] != "nope" {
		t.Fatal(j)
	}
	if c.status(p) != "terminated" {
		t.Fatal(c.status(p))
	}
}

func (c *tc) adminPost(path, body string) {
	c.t.Helper()
	rs, err := c.hc.Post(c.s.URL()+path, "application/json", strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	b, _ := io.ReadAll(rs.Body)
	rs.Body.Close()
	if rs.StatusCode != 204 {
		c.t.Fatalf("%s: %d %s", path, rs.StatusCode, b)
	}
}

func TestBusy(t *testing.T) {
	c := start(t, z14File, Options{})
	c.s.Busy(2, "")
	c.fail(409, 2, "GET", "/api/cpcs", nil)
	// Logon and version are never busy.
	c.logon()
	c.fail(409, 2, "GET", "/api/cpcs/"+z14CPC, nil)
	c.ok(200, "GET", "/api/cpcs", nil)
	// Restricted to one operation.
	p := c.createPartition(z14CPC, "busy")
	c.s.Busy(1, "POST /api/partitions/{id}/nics")
	c.ok(200, "GET", p, nil)
	c.fail(409, 2, "POST", p+"/nics", map[string]any{"name": "n", "virtual-switch-uri": z14VS0})
	c.ok(201, "POST", p+"/nics", map[string]any{"name": "n", "virtual-switch-uri": z14VS0})
	c.adminPost("/sim/busy", `{"count":1}`)
	c.fail(409, 2, "GET", p, nil)
	c.ok(200, "GET", p, nil)
}

func TestLatencyAndCounts(t *testing.T) {
	c := start(t, z14File, Options{})
	c.s.ResetCounts()
	p := c.createPartition(z14CPC, "count")
	c.ok(200, "GET", p, nil)
	c.ok(200, "GET", p, nil)
	c.fail(404, 1, "GET", "/api/partitions/nope", nil)
	got := c.s.Counts()
	if got["POST /api/cpcs/{id}/partitions"] != 1 || got["GET /api/partitions/{id}"] != 3 || c.s.TotalCount() != 4 {
		t.Fatal(got)
	}
	rs, err := c.hc.Get(c.s.URL() + "/sim/counts")
	if err != nil {
		t.Fatal(err)
	}
	var cs struct {
		Counts map[string]int `json:"counts"`
		Total  int            `json:"total"`
	}
	json.NewDecoder(rs.Body).Decode(&cs)
	rs.Body.Close()
	if cs.Total != 4 {
		t.Fatal(cs)
	}
	c.adminPost("/sim/reset-counts", "")
	if c.s.TotalCount() != 0 {
		t.Fatal(c.s.Counts())
	}
	c.s.SetLatency(60 * time.Millisecond)
	t0 := time.Now()
	c.ok(200, "GET", p, nil)
	if d := time.Since(t0); d < 60*time.Millisecond {
		t.Fatal(d)
	}
	c.adminPost("/sim/latency", `{"ms":0}`)
	t0 = time.Now()
	c.ok(200, "GET", p, nil)
	if d := time.Since(t0); d > 50*time.Millisecond {
		t.Fatal(d)
	}
}

func TestAdminEndpoints(t *testing.T) {
	c := start(t, z14File, Options{})
	p := c.createPartition(z14CPC, "admin")
	c.startPartition(p)
	c.adminPost("/sim/guest-shutdown", `{"partition":"admin"}`)
	if c.status(p) != "paused" {
		t.Fatal(c.status(p))
	}
	c.adminPost("/sim/partition-status", `{"partition":"admin","partition-status":"degraded"}`)
	if c.status(p) != "degraded" {
		t.Fatal(c.status(p))
	}
	c.adminPost("/sim/timing", `{"job-ms":0,"deferred-ms":0}`)
	c.adminPost("/sim/expire-sessions", "")
	c.fail(403, 5, "GET", p, nil)
	rs, _ := c.hc.Post(c.s.URL()+"/sim/guest-shutdown", "application/json", strings.NewReader(`{"partition":"nope"}`))
	rs.Body.Close()
	if rs.StatusCode != 409 {
		t.Fatal(rs.StatusCode)
	}
	rs, _ = c.hc.Get(c.s.URL() + "/sim/partitions")
	b, _ := io.ReadAll(rs.Body)
	rs.Body.Close()
	if !strings.Contains(string(b), `"admin"`) {
		t.Fatal(string(b))
	}
	if pi, ok := c.s.Partition("admin"); !ok || pi.Status != "degraded" {
		t.Fatal(pi)
	}
}

func TestInventoryErrors(t *testing.T) {
	if _, err := LoadInventoryFile("testdata/nope.yaml"); err == nil {
		t.Fatal("missing file")
	}
	for _, tt := range []struct{ yaml, want string }{
		{"user: [", "bad YAML"},
		{"user: a\npassword: b\ncpcs: []\n", "no cpcs"},
		{"password: b\ncpcs: []\n", "user and password"},
		{"user: a\npassword: b\nbogus: 1\n", "field bogus not found"},
		{"user: a\npassword: b\napi-version: two\ncpcs: [{object-id: c, name: C}]\n", "api-version"},
		{"user: a\npassword: b\ncpcs: [{object-id: c, name: C}, {object-id: c, name: D}]\n", "already used"},
		{"user: a\npassword: b\ncpcs: [{object-id: c, name: C, adapters: [{object-id: a, type: tape}]}]\n", "type \"tape\""},
		{"user: a\npassword: b\ncpcs: [{object-id: c, name: C, virtual-switches: [{object-id: v, adapter: x}]}]\n", "not an adapter"},
		{"user: a\npassword: b\ncpcs: [{object-id: c, name: C, adapters: [{object-id: a, type: osd}], virtual-switches: [{object-id: v, adapter: a, port: 2}]}]\n", "port 2"},
		{"user: a\npassword: b\ncpcs: [{object-id: c, name: C, storage-groups: [{object-id: g, name: G}]}]\n", "dpm-storage-management"},
	} {
		_, err := ParseInventory([]byte(tt.yaml))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: got %v, want %q", tt.yaml, err, tt.want)
		}
	}
	for _, f := range []string{z14File, z13File} {
		if _, err := LoadInventoryFile(f); err != nil {
			t.Error(err)
		}
	}
	if _, err := Start(context.Background(), Options{Listen: "127.0.0.1:0"}); err == nil {
		t.Fatal("start without inventory")
	}
}

func TestCommand(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Command(ctx, []string{"--listen", "127.0.0.1:0", "--inventory", z14File, "--cert-out", dir + "/ca.pem"}, nil)
	}()
	time.Sleep(300 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := Command(context.Background(), []string{"--listen", "127.0.0.1:0"}, nil); err == nil || !strings.Contains(err.Error(), "--inventory") {
		t.Fatal(err)
	}
}

// FuzzDecodeRequests feeds arbitrary bodies to the decoding and
// validation of every create/update body; none may panic, and each
// answer is a success or a 400.
func FuzzDecodeRequests(f *testing.F) {
	for _, s := range []string{`{"name":"a","ifl-processors":1,"initial-memory":1024,"maximum-memory":1024}`,
		`{"boot-os-specific-parameters":"x","boot-timeout":60}`, `{"name":"n","virtual-switch-uri":"/api/virtual-switches/x","device-number":"00fa"}`,
		`{"ifl-processors":1e400}`, `[]`, `null`, `{"name":null}`, `{"vlan-id":null}`, `{"a":1}{}`} {
		f.Add([]byte(s))
	}
	inv, err := LoadInventoryFile(z14File)
	if err != nil {
		f.Fatal(err)
	}
	c := inv.CPCs[0]
	cp := &cpc{CPC: c}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, e := decodeBody(b)
		if e != nil {
			if e.status != 400 {
				t.Fatal(e)
			}
			return
		}
		for _, specs := range []map[string]field{partitionFields, nicFields, hbaFields} {
			for _, create := range []bool{true, false} {
				n, e := normalize(m, specs, create)
				if e != nil {
					if e.status != 400 {
						t.Fatal(e)
					}
					continue
				}
				if e := checkPartitionValues(n, cp); e != nil && e.status != 400 {
					t.Fatal(e)
				}
			}
		}
	})
}
