package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A token made the way PyJWT makes them (header typ before alg),
// computed outside Go with Python's hmac module.
const pyjwtToken = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJleHAiOjE4MDAwMDM2MDB9.lAUX7hCQb5BOej_DxXDcnXZrdsjGZ85TPbcrVj4fVmg"

func TestVerifyJWT(t *testing.T) {
	key := []byte("admin-token")
	if err := verifyJWT(key, pyjwtToken, time.Unix(1800003599, 0)); err != nil {
		t.Errorf("PyJWT-style token: %v", err)
	}
	if err := verifyJWT(key, pyjwtToken, time.Unix(1800003600, 0)); err != errTokenExpired {
		t.Errorf("at exp: %v, want expired (PyJWT: exp <= now)", err)
	}
	if err := verifyJWT([]byte("other"), pyjwtToken, time.Unix(0, 0)); err != errTokenSignature {
		t.Errorf("other key: %v", err)
	}
	none := "eyJhbGciOiJub25lIn0.eyJleHAiOjE4MDAwMDM2MDB9."
	if err := verifyJWT(key, none, time.Unix(0, 0)); err == nil {
		t.Error("alg none accepted")
	}
	a := &Auth{AdminToken: func() ([]byte, error) { return key, nil }, Now: func() time.Time { return time.Unix(1800000000, 0) }}
	tok, err := a.issue("admin-token")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Split(tok, ".")[1], strings.Split(pyjwtToken, ".")[1]; got != want {
		t.Errorf("payload %s, want %s (exp = now + 3600)", got, want)
	}
	if err := verifyJWT(key, tok, time.Unix(1800003599, 0)); err != nil {
		t.Errorf("own token: %v", err)
	}
	if _, err := a.issue("admin-tokeN"); err == nil {
		t.Error("wrong admin token accepted")
	}
}

func TestKeyedMutex(t *testing.T) {
	var k keyedMutex
	ctx := context.Background()
	u1, _ := k.lock(ctx, "a")
	u2, err := k.lock(ctx, "b") // other key: no wait
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := k.lock(short, "a"); err == nil {
		t.Fatal("second lock of a held key")
	}
	u1()
	u3, err := k.lock(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	u3()
	u2()
	if n := k.busy(); n != 0 {
		t.Errorf("%d keys left", n)
	}
}

func TestPyRepr(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{
		{"a'b", `"a'b"`}, {`a'"`, `'a\'"'`}, {"x\ny", `'x\ny'`}, {nil, "None"}, {true, "True"},
		{json.Number("1.50"), "1.5"}, {[]any{"a", json.Number("1")}, "['a', 1]"},
		{map[string]any{"b": false, "a": nil}, "{'a': None, 'b': False}"},
	} {
		if got := pyRepr(c.v); got != c.want {
			t.Errorf("pyRepr(%#v) = %s, want %s", c.v, got, c.want)
		}
	}
}

// allSchemas is every body schema, for the fuzzer.
var allSchemas = []*schema{schemaGuestCreate, schemaDeploy, schemaCapture, schemaStart, schemaStop,
	schemaConfigMinidisks, schemaCreateInterface, schemaDeleteInterface, schemaCreateNIC, schemaCoupleNIC,
	schemaImageImport, schemaImageExport}

// FuzzDecodeValidate: any bytes parse or fail cleanly, and any parsed
// value validates or fails cleanly against every schema.
func FuzzDecodeValidate(f *testing.F) {
	for _, s := range []string{
		`{"guest":{"userid":"a","vcpus":1,"memory":512,"disk_list":[{"size":"1g","is_boot_disk":"yes"}]}}`,
		`{"interface":{"os_version":"rhel8.4","guest_networks":[{"ip_addr":"1.2.3.4","cidr":"1.2.3.0/24","dns_addr":["8.8.8.8"]}]}}`,
		`{"image":{"image_name":"i","url":"file:///a/b","image_meta":{"os_version":"sles15sp3","md5sum":"0123456789abcdef0123456789abcdef"}}}`,
		`{"info":{"couple":"on","vswitch":"V","vlan_id":-1}}`, `[1,2.5e3,null,true,"x"]`, `{"a":{"b":{"c":[]}}}`, `1e999`, `"\u0000"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, e := parseJSON(b)
		if e != nil {
			if e.OverallRC != 400 || e.RS != 400 {
				t.Fatalf("parse error envelope %+v", e)
			}
			return
		}
		_ = pyRepr(v)
		for _, s := range allSchemas {
			if err := s.validate(v, nil); err != nil {
				_ = err.detail()
			}
		}
	})
}

// FuzzHandlerBodies sends arbitrary bodies to every route that reads
// one: the answer is always a JSON envelope and never a 5xx.
func FuzzHandlerBodies(f *testing.F) {
	f.Add(uint8(0), []byte(`{"action":"deploy","image":"i","skipdiskcopy":"1"}`))
	f.Add(uint8(1), []byte(`{"guest":{"userid":"abc","vcpus":"2","memory":1024,"max_cpu":4,"max_mem":"4G"}}`))
	f.Add(uint8(2), []byte(`{"interface":{"os_version":"ubuntu22.04","guest_networks":[{"mtu":"9000"}]}}`))
	f.Add(uint8(3), []byte(`{"nic":{"vdev":null,"active":"No"}}`))
	f.Add(uint8(4), []byte(`{"action":"softstop","timeout":"99999999999999999999"}`))
	f.Add(uint8(5), []byte(`{"info":{"couple":true,"vswitch":"X","vlan_id":4094}}`))
	f.Add(uint8(6), []byte(`{"active":"maybe"}`))
	routes := []struct{ method, path string }{
		{"POST", "/guests/g1/action"}, {"POST", "/guests"}, {"POST", "/guests/g1/interface"}, {"POST", "/guests/g1/nic"},
		{"POST", "/guests/g1/action"}, {"PUT", "/guests/g1/nic/1000"}, {"DELETE", "/guests/g1/nic/1000"},
		{"DELETE", "/guests/g1/interface"}, {"PUT", "/guests/g1/disks"}, {"POST", "/images"}, {"PUT", "/images/i"},
	}
	h := NewHandler(nopBackend{}, Options{})
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		rt := routes[int(which)%len(routes)]
		req := httptest.NewRequest(rt.method, rt.path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", rt.method, rt.path, body, w.Code, w.Body)
		}
		var env map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env["overallRC"] == nil {
			t.Fatalf("not an envelope: %s", w.Body)
		}
		if w.Code == http.StatusOK && env["overallRC"] != float64(0) {
			t.Fatalf("200 with %s", w.Body)
		}
	})
}

// nopBackend succeeds at everything with zero values.
type nopBackend struct{}

func (nopBackend) HostInfo(context.Context) (HostInfo, error)                  { return HostInfo{}, nil }
func (nopBackend) ListGuests(context.Context) ([]string, error)                { return nil, nil }
func (nopBackend) CreateGuest(context.Context, GuestSpec) ([]Disk, error)      { return nil, nil }
func (nopBackend) DeleteGuest(context.Context, string) error                   { return nil }
func (nopBackend) GuestInfo(context.Context, string) (GuestInfo, error)        { return GuestInfo{}, nil }
func (nopBackend) PowerState(context.Context, string) (string, error)          { return "off", nil }
func (nopBackend) Action(context.Context, string, PowerAction) error           { return nil }
func (nopBackend) ConsoleOutput(context.Context, string) (string, error)       { return "", nil }
func (nopBackend) Deploy(context.Context, string, DeploySpec) error            { return nil }
func (nopBackend) ConfigMinidisks(context.Context, string, []Disk) error       { return nil }
func (nopBackend) DeleteNIC(context.Context, string, string, bool) error       { return nil }
func (nopBackend) CoupleNIC(context.Context, string, string, Couple) error     { return nil }
func (nopBackend) ImportImage(context.Context, ImageImport) error              { return nil }
func (nopBackend) QueryImages(context.Context, string) ([]Image, error)        { return nil, nil }
func (nopBackend) DeleteImage(context.Context, string) error                   { return nil }
func (nopBackend) ImageRootDiskSize(context.Context, string) (string, error)   { return "1", nil }
func (nopBackend) CreateNIC(context.Context, string, NICSpec) (NICSpec, error) { return NICSpec{}, nil }
func (nopBackend) CreateNetworkInterface(context.Context, string, InterfaceSpec) ([]GuestNetwork, error) {
	return nil, nil
}
func (nopBackend) DeleteNetworkInterface(context.Context, string, string, string, bool) error {
	return nil
}
