package api_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/api/apitest"
)

type env struct {
	fake *apitest.Fake
	cl   *apitest.Client
	srv  *httptest.Server
	logs *bytes.Buffer
}

func newEnv(t *testing.T, o api.Options) *env {
	t.Helper()
	f := apitest.NewFake()
	logs := &bytes.Buffer{}
	var mu sync.Mutex
	o.Logger = slog.New(slog.NewTextHandler(lockedWriter{&mu, logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := httptest.NewServer(api.NewHandler(f, o))
	t.Cleanup(srv.Close)
	return &env{fake: f, cl: &apitest.Client{Base: srv.URL, HTTP: srv.Client()}, srv: srv, logs: logs}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// want checks status and envelope codes of a reply.
func want(t *testing.T, what string, r *api_Reply, err error, status, overallRC, modID, rc, rs int) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	got := -1
	if r.ModID != nil {
		got = *r.ModID
	}
	if r.Status != status || r.OverallRC != overallRC || got != modID || r.RC != rc || r.RS != rs {
		t.Errorf("%s: got %s; want HTTP %d overallRC %d modID %d rc %d rs %d", what, r.Err(), status, overallRC, modID, rc, rs)
	}
	if r.Header.Get("Cache-Control") != "no-cache" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("%s: headers %v", what, r.Header)
	}
}

type api_Reply = apitest.Reply

func ok(t *testing.T, what string, r *api_Reply, err error) {
	t.Helper()
	want(t, what, r, err, 200, 0, -1, 0, 0)
}

// TestNovaSpawnSequence runs docs/facts/zvm-connector.md 3.4 and then every other route.
func TestNovaSpawnSequence(t *testing.T) {
	e := newEnv(t, api.Options{Version: "1.2.3"})
	ctx := context.Background()
	cl := e.cl

	r, err := cl.Version(ctx)
	ok(t, "version", r, err)
	var v map[string]string
	if err := r.Out(&v); err != nil || v["api_version"] != "1.0" || v["version"] != "1.2.3" || v["min_version"] != "1.0" || v["max_version"] != "1.0" {
		t.Errorf("version output %s", r.Output)
	}
	r, err = cl.HostGetInfo(ctx)
	ok(t, "host", r, err)
	var host map[string]any
	if r.Out(&host); host["hypervisor_type"] != "zvm" || host["cpu_info"] == nil {
		t.Errorf("host output %s", r.Output)
	}

	// 2: image unknown -> 404, import, query.
	r, err = cl.ImageQuery(ctx, "img1")
	want(t, "image query missing", r, err, 404, 404, api.ModImage, 404, 1)
	r, err = cl.ImageImport(ctx, "img1", "file:///var/tmp/img1", map[string]any{"os_version": "rhel8.4"}, "")
	ok(t, "image import", r, err)
	r, err = cl.ImageImport(ctx, "img1", "file:///var/tmp/img1", map[string]any{"os_version": "rhel8.4"}, "")
	want(t, "image import again", r, err, 409, 300, api.ModImage, 300, 13)
	r, err = cl.ImageQuery(ctx, "img1")
	ok(t, "image query", r, err)
	var ims []map[string]any
	if r.Out(&ims); len(ims) != 1 || ims[0]["imagename"] != "img1" || ims[0]["imageosdistro"] != "rhel8.4" || ims[0]["disk_size_units"] != "3338:CYL" {
		t.Errorf("image query output %s", r.Output)
	}
	r, err = cl.ImageGetRootDiskSize(ctx, "img1")
	ok(t, "root disk size", r, err)
	if string(r.Output) != `"3338"` {
		t.Errorf("root disk size output %s", r.Output)
	}

	// 3: create, lower-case userid is upper-cased.
	r, err = cl.GuestCreate(ctx, "inst0001", 2, 2048, []map[string]any{{"size": "10g", "is_boot_disk": true}, {"size": "1g", "format": "ext3"}})
	ok(t, "create", r, err)
	var disks []map[string]any
	if r.Out(&disks); len(disks) != 2 || disks[0]["vdev"] != "0100" || disks[1]["vdev"] != "0101" {
		t.Errorf("create output %s", r.Output)
	}
	if _, found := e.fake.Guest("INST0001"); !found {
		t.Fatal("guest not created upper-case")
	}
	r, err = cl.GuestCreate(ctx, "INST0001", 2, 2048, nil)
	want(t, "create again", r, err, 409, 8, api.ModSMT, 400, 8)

	// 4: deploy.
	r, err = cl.GuestDeploy(ctx, "inst0001", "img1", "/tmp/cfgdrive.iso", "nova@192.168.1.2")
	ok(t, "deploy", r, err)
	if g, _ := e.fake.Guest("INST0001"); g.Image != "img1" || g.Transport != "/tmp/cfgdrive.iso" || g.OSVersion != "rhel8.4" {
		t.Errorf("deploy state %+v", g)
	}
	r, err = cl.GuestDeploy(ctx, "inst0001", "nosuch", "", "")
	want(t, "deploy missing image", r, err, 404, 300, api.ModImage, 300, 20)

	// 5: minidisks.
	r, err = cl.GuestConfigMinidisks(ctx, "inst0001", []map[string]any{{"size": "1g", "format": "ext3"}})
	ok(t, "minidisks", r, err)

	// 6: network interface.
	r, err = cl.GuestCreateNetworkInterface(ctx, "inst0001", "rhel8.4", []map[string]any{
		{"ip_addr": "10.0.0.5", "gateway_addr": "10.0.0.1", "cidr": "10.0.0.0/24", "mac_addr": "02:00:00:00:00:01", "nic_id": "port-1"},
		{"ip_addr": "10.0.1.5", "gateway_addr": "10.0.1.1", "cidr": "10.0.1.0/24", "mac_addr": "02:00:00:00:00:02", "nic_id": "port-2"},
	})
	ok(t, "interface", r, err)
	var nets []map[string]any
	if r.Out(&nets); len(nets) != 2 || nets[0]["nic_vdev"] != "1000" || nets[1]["nic_vdev"] != "1003" {
		t.Errorf("interface output %s", r.Output)
	}

	// 7: start, power state, info.
	r, err = cl.GuestAction(ctx, "inst0001", "start", nil)
	ok(t, "start", r, err)
	r, err = cl.GuestGetPowerState(ctx, "inst0001")
	ok(t, "power state", r, err)
	if string(r.Output) != `"on"` {
		t.Errorf("power state %s", r.Output)
	}
	r, err = cl.GuestGetInfo(ctx, "INST0001")
	ok(t, "info", r, err)
	var info map[string]any
	if r.Out(&info); info["power_state"] != "on" || info["mem_kb"] != float64(2048*1024) || info["num_cpu"] != float64(2) {
		t.Errorf("info %s", r.Output)
	}

	// Other actions.
	for _, a := range []struct {
		name  string
		extra map[string]any
	}{
		{"softstop", map[string]any{"timeout": 10, "poll_interval": 2}},
		{"start", map[string]any{"timeout": "5"}},
		{"pause", nil}, {"unpause", nil}, {"reboot", nil}, {"reset", nil},
		{"stop", map[string]any{"timeout": 0}},
	} {
		r, err = cl.GuestAction(ctx, "inst0001", a.name, a.extra)
		ok(t, a.name, r, err)
	}
	r, err = cl.GuestAction(ctx, "inst0001", "reboot", nil)
	want(t, "reboot while off", r, err, 409, 300, api.ModGuest, 300, 5)
	r, err = cl.GuestAction(ctx, "inst0001", "get_console_output", nil)
	ok(t, "console", r, err)
	if !strings.Contains(string(r.Output), "fake console") {
		t.Errorf("console %s", r.Output)
	}
	r, err = cl.GuestAction(ctx, "inst0001", "capture", map[string]any{"image": "cap1"})
	want(t, "capture", r, err, 501, 501, api.ModGuest, 501, 1)
	r, err = cl.GuestAction(ctx, "inst0001", "resize_mem", map[string]any{"size": "4g"})
	want(t, "resize_mem", r, err, 501, 501, api.ModGuest, 501, 1)

	// NICs.
	r, err = cl.GuestCreateNIC(ctx, "inst0001", map[string]any{"vdev": "2000", "nic_id": "p3", "mac_addr": "02:00:00:00:00:03", "active": "false"})
	ok(t, "create nic", r, err)
	if string(r.Output) != `"2000"` {
		t.Errorf("create nic output %s", r.Output)
	}
	r, err = cl.GuestCoupleNIC(ctx, "inst0001", "2000", map[string]any{"couple": true, "vswitch": "VSW1", "active": false, "vlan_id": -1})
	ok(t, "couple", r, err)
	if g, _ := e.fake.Guest("INST0001"); g.Couples["2000"].VSwitch != "VSW1" || g.Couples["2000"].VLANID != -1 {
		t.Errorf("couple state %+v", g.Couples)
	}
	r, err = cl.GuestCoupleNIC(ctx, "inst0001", "2000", map[string]any{"couple": "false"})
	ok(t, "uncouple", r, err)
	r, err = cl.GuestCoupleNIC(ctx, "inst0001", "2000", map[string]any{"couple": true})
	want(t, "couple without vswitch", r, err, 400, 400, api.ModWSGI, 400, 400)
	r, err = cl.GuestDeleteNIC(ctx, "inst0001", "2000", false)
	ok(t, "delete nic", r, err)
	r, err = cl.GuestDeleteNetworkInterface(ctx, "inst0001", "rhel8.4", "1000", false)
	ok(t, "delete interface", r, err)
	if g, _ := e.fake.Guest("INST0001"); len(g.NICs) != 1 {
		t.Errorf("NICs left %v", g.NICs)
	}

	r, err = cl.GuestList(ctx)
	ok(t, "list", r, err)
	if string(r.Output) != `["INST0001"]` {
		t.Errorf("list %s", r.Output)
	}
	r, err = cl.ImageExport(ctx, "img1", "file:///var/tmp/out")
	want(t, "export", r, err, 501, 501, api.ModImage, 501, 1)
	r, err = cl.GuestDelete(ctx, "inst0001")
	ok(t, "delete", r, err)
	r, err = cl.GuestGetPowerState(ctx, "inst0001")
	want(t, "power state of deleted", r, err, 404, 404, api.ModGuest, 404, 1) // nova: InstanceNotFound
	r, err = cl.GuestList(ctx)
	ok(t, "list empty", r, err)
	if string(r.Output) != `[]` {
		t.Errorf("empty list %s", r.Output)
	}
	r, err = cl.ImageDelete(ctx, "img1")
	ok(t, "image delete", r, err)
	r, err = cl.ImageQuery(ctx, "")
	ok(t, "image list", r, err)
	if string(r.Output) != `[]` {
		t.Errorf("image list %s", r.Output)
	}
}

// TestErrorMappings checks every route-specific status mapping with
// injected backend errors.
func TestErrorMappings(t *testing.T) {
	e := newEnv(t, api.Options{})
	ctx := context.Background()
	e.cl.GuestCreate(ctx, "g1", 1, 512, nil)
	smapi := func(orc, rc, rs int) *api.Error {
		return &api.Error{OverallRC: orc, ModID: api.ModSMT, RC: rc, RS: rs, Msg: "injected"}
	}
	for _, c := range []struct {
		method string
		err    *api.Error
		call   func() (*api_Reply, error)
		status int
	}{
		{"PowerState", smapi(8, 400, 4), func() (*api_Reply, error) { return e.cl.GuestGetPowerState(ctx, "g1") }, 404},
		{"PowerState", smapi(8, 200, 4), func() (*api_Reply, error) { return e.cl.GuestGetPowerState(ctx, "g1") }, 404},
		{"GuestInfo", smapi(8, 400, 4), func() (*api_Reply, error) { return e.cl.GuestGetInfo(ctx, "g1") }, 404},
		{"Action", smapi(8, 400, 4), func() (*api_Reply, error) { return e.cl.GuestAction(ctx, "g1", "start", nil) }, 404},
		{"Action", apitest.ErrGuestOff("G1"), func() (*api_Reply, error) { return e.cl.GuestAction(ctx, "g1", "stop", nil) }, 409},
		{"Action", smapi(8, 400, 12), func() (*api_Reply, error) { return e.cl.GuestAction(ctx, "g1", "start", nil) }, 500},
		{"Deploy", &api.Error{OverallRC: 300, ModID: api.ModGuest, RC: 300, RS: 3, Msg: "HCPLNM053E G1 not linked; not in CP directory"},
			func() (*api_Reply, error) { return e.cl.GuestDeploy(ctx, "g1", "i", "", "") }, 404},
		{"Deploy", &api.Error{OverallRC: 300, ModID: api.ModGuest, RC: 300, RS: 3, Msg: "unpackdiskimage failed"},
			func() (*api_Reply, error) { return e.cl.GuestDeploy(ctx, "g1", "i", "", "") }, 500},
		{"CreateGuest", smapi(8, 400, 8), func() (*api_Reply, error) { return e.cl.GuestCreate(ctx, "g2", 1, 512, nil) }, 409},
		{"CreateGuest", smapi(8, 436, 4), func() (*api_Reply, error) { return e.cl.GuestCreate(ctx, "g2", 1, 512, nil) }, 500},
		{"CreateGuest", &api.Error{OverallRC: 404, ModID: api.ModGuest, RC: 404, RS: 1, Msg: "Profile does not exist"},
			func() (*api_Reply, error) { return e.cl.GuestCreate(ctx, "g2", 1, 512, nil) }, 404},
		{"ImportImage", apitest.ErrImageExists("i"), func() (*api_Reply, error) {
			return e.cl.ImageImport(ctx, "i", "file:///x/i", map[string]any{"os_version": "sles15"}, "")
		}, 409},
		{"QueryImages", apitest.ErrImageNotFound("i"), func() (*api_Reply, error) { return e.cl.ImageQuery(ctx, "i") }, 404},
		{"ImageRootDiskSize", apitest.ErrImageNotFound("i"), func() (*api_Reply, error) { return e.cl.ImageGetRootDiskSize(ctx, "i") }, 500},
		{"DeleteGuest", smapi(8, 400, 4), func() (*api_Reply, error) { return e.cl.GuestDelete(ctx, "g1") }, 500},
		{"HostInfo", &api.Error{OverallRC: 503, ModID: api.ModSMT, RC: 503, RS: 2, Msg: "busy"}, func() (*api_Reply, error) { return e.cl.HostGetInfo(ctx) }, 503},
		{"ListGuests", &api.Error{OverallRC: 501, ModID: api.ModGuest, RC: 501, RS: 1, Msg: "x"}, func() (*api_Reply, error) { return e.cl.GuestList(ctx) }, 501},
		{"CreateNIC", &api.Error{OverallRC: 100, ModID: api.ModGeneric, RC: 100, RS: 3, Msg: "bad MAC"}, func() (*api_Reply, error) {
			return e.cl.GuestCreateNIC(ctx, "g1", map[string]any{})
		}, 400},
	} {
		e.fake.Fail(c.method, c.err, 1)
		r, err := c.call()
		want(t, c.method+" "+c.err.Error(), r, err, c.status, c.err.OverallRC, c.err.ModID, c.err.RC, c.err.RS)
		if r != nil && r.ErrMsg != c.err.Msg {
			t.Errorf("%s: errmsg %q", c.method, r.ErrMsg)
		}
	}
	// A plain Go error is overallRC 500, modID 400.
	e.fake.Fail("HostInfo", context.DeadlineExceeded, 1)
	r, err := e.cl.HostGetInfo(ctx)
	want(t, "plain error", r, err, 500, 500, api.ModGeneric, 500, 0)
}

// TestBadRequests covers the framework errors and schema validation.
func TestBadRequests(t *testing.T) {
	e := newEnv(t, api.Options{})
	ctx := context.Background()
	e.cl.GuestCreate(ctx, "g1", 1, 512, nil)
	json := http.Header{"Content-Type": {"application/json"}}
	for _, c := range []struct {
		name, method, path string
		h                  http.Header
		body               string
		status, orc, mod   int
		rc, rs             int
		msg                string
	}{
		{"bad json", "POST", "/guests", json, `{"guest":`, 400, 400, 120, 400, 400, "Malformed JSON"},
		{"empty body", "POST", "/guests/g1/action", json, ``, 400, 400, 120, 400, 400, "Malformed JSON"},
		{"trailing", "POST", "/guests", json, `{} {}`, 400, 400, 120, 400, 400, "Malformed JSON"},
		{"no content type", "POST", "/guests", nil, `{}`, 400, 400, 120, 400, 400, "content-type header required"},
		{"no action", "POST", "/guests/g1/action", json, `{"image":"x"}`, 400, 400, 120, 400, 400, "action not exist or is empty"},
		{"empty object", "POST", "/guests/g1/action", json, `{}`, 400, 400, 120, 400, 400, "action not exist or is empty"},
		{"unknown action", "POST", "/guests/g1/action", json, `{"action":"explode"}`, 400, 400, 120, 400, 400, "action explode is invalid"},
		{"deploy no image", "POST", "/guests/g1/action", json, `{"action":"deploy"}`, 400, 400, 120, 400, 400,
			"ValidationError: Validation error: 'image' is a required property"},
		{"deploy bad remotehost", "POST", "/guests/g1/action", json, `{"action":"deploy","image":"i","remotehost":"no at sign"}`, 400, 400, 120, 400, 400,
			"Invalid input for field/attribute remotehost. Value: no at sign."},
		{"deploy extra", "POST", "/guests/g1/action", json, `{"action":"deploy","image":"i","color":"red"}`, 400, 400, 120, 400, 400,
			"Additional properties are not allowed ('color' was unexpected)"},
		{"start bad timeout", "POST", "/guests/g1/action", json, `{"action":"start","timeout":"soon"}`, 400, 400, 120, 400, 400,
			"Invalid input for field/attribute timeout. Value: soon. 'soon' does not match '^[0-9]*$'"},
		{"vcpus string word", "POST", "/guests", json, `{"guest":{"userid":"a","vcpus":"two","memory":512}}`, 400, 400, 120, 400, 400, "field/attribute vcpus"},
		{"vcpus float", "POST", "/guests", json, `{"guest":{"userid":"a","vcpus":1.5,"memory":512}}`, 400, 400, 120, 400, 400,
			"1.5 is not of type 'integer', 'string'"},
		{"vcpus zero", "POST", "/guests", json, `{"guest":{"userid":"a","vcpus":0,"memory":512}}`, 400, 400, 120, 400, 400, "0 is less than the minimum of 1"},
		{"userid too long", "POST", "/guests", json, `{"guest":{"userid":"abcdefghi","vcpus":1,"memory":512}}`, 400, 400, 120, 400, 400,
			"Invalid input for field/attribute userid. Value: abcdefghi. 'abcdefghi' is too long"},
		{"userid bad char", "POST", "/guests", json, `{"guest":{"userid":"a-b","vcpus":1,"memory":512}}`, 400, 400, 120, 400, 400, "does not match"},
		{"userid number", "POST", "/guests", json, `{"guest":{"userid":5,"vcpus":1,"memory":512}}`, 400, 400, 120, 400, 400, "5 is not of type 'string'"},
		{"no guest", "POST", "/guests", json, `{}`, 400, 400, 120, 400, 400, "ValidationError: Validation error: 'guest' is a required property"},
		{"body is a list", "POST", "/guests", json, `[1]`, 400, 400, 120, 400, 400, "[1] is not of type 'object'"},
		{"bad disk size", "POST", "/guests", json, `{"guest":{"userid":"a","vcpus":1,"memory":512,"disk_list":[{"size":"ten gigs"}]}}`, 400, 100, 400, 100, 3,
			"Invalid API arg format"},
		{"disk without size", "POST", "/guests", json, `{"guest":{"userid":"a","vcpus":1,"memory":512,"disk_list":[{"format":"ext3"}]}}`, 400, 400, 120, 400, 400,
			"'size' is a required property"},
		{"bad format", "POST", "/guests", json, `{"guest":{"userid":"a","vcpus":1,"memory":512,"disk_list":[{"size":"1g","format":"ntfs"}]}}`, 400, 400, 120, 400, 400,
			"'ntfs' is not one of ['ext2', 'ext3', 'ext4', 'xfs', 'swap', 'none']"},
		{"bad boolean", "POST", "/guests", json, `{"guest":{"userid":"a","vcpus":1,"memory":512,"disk_list":[{"size":"1g","is_boot_disk":"maybe"}]}}`, 400, 400, 120, 400, 400,
			"is not one of"},
		{"path userid too long", "POST", "/guests/abcdefghi/action", json, `{"action":"start"}`, 400, 100, 400, 100, 3,
			"Invalid API arg format, error: Invalid string value found at the #1 parameter"},
		{"path userid too long GET", "GET", "/guests/abcdefghi/power_state", nil, ``, 400, 400, 120, 400, 400,
			"Invalid input for query parameters userid. Value: abcdefghi."},
		{"delete userid bad", "DELETE", "/guests/a%20b", nil, ``, 400, 100, 400, 100, 3, "Invalid string value"},
		{"interface bad os", "POST", "/guests/g1/interface", json, `{"interface":{"os_version":"windows","guest_networks":[]}}`, 400, 400, 120, 400, 400,
			"'windows' is not valid under any of the given schemas"},
		{"interface ip without cidr", "POST", "/guests/g1/interface", json, `{"interface":{"os_version":"rhel9","guest_networks":[{"ip_addr":"10.0.0.1"}]}}`, 400, 400, 120, 400, 400,
			"'cidr' is a dependency of 'ip_addr'"},
		{"interface bad ip", "POST", "/guests/g1/interface", json, `{"interface":{"os_version":"rhel9","guest_networks":[{"ip_addr":"10.0.0.300","cidr":"x"}]}}`, 400, 400, 120, 400, 400,
			"'10.0.0.300' is not a 'ipv4'"},
		{"nic bad mac", "POST", "/guests/g1/nic", json, `{"nic":{"mac_addr":"zz"}}`, 400, 400, 120, 400, 400, "field/attribute mac_addr"},
		{"nic bad vdev path", "PUT", "/guests/g1/nic/xyz12", json, `{"info":{"couple":false}}`, 400, 100, 400, 100, 3, "Invalid vdev"},
		{"image bad url", "POST", "/images", json, `{"image":{"image_name":"i","url":"ftp://x","image_meta":{"os_version":"rhel8"}}}`, 400, 400, 120, 400, 400, "field/attribute url"},
		{"image no os", "POST", "/images", json, `{"image":{"image_name":"i","url":"file:///x/y","image_meta":{}}}`, 400, 400, 120, 400, 400, "'os_version' is a required property"},
		{"two imagenames", "GET", "/images?imagename=a&imagename=b", nil, ``, 400, 400, 120, 400, 400, "is too long"},
		{"unknown route", "GET", "/nosuch", nil, ``, 404, 400, 120, 400, 404, "The resource could not be found."},
		{"trailing slash", "GET", "/guests/", nil, ``, 404, 400, 120, 400, 404, "The resource could not be found."},
		{"method not allowed", "PATCH", "/guests", json, `{}`, 405, 400, 120, 400, 405, "The server could not comply"},
		{"method not allowed root", "POST", "/", json, `{}`, 405, 400, 120, 400, 405, ""},
		{"token GET", "GET", "/token", nil, ``, 405, 400, 120, 400, 405, ""},
	} {
		var b []byte
		if c.body != "" || c.method == "POST" {
			b = []byte(c.body)
		}
		r, err := e.cl.Raw(ctx, c.method, c.path, c.h, b)
		want(t, c.name, r, err, c.status, c.orc, c.mod, c.rc, c.rs)
		if r != nil && !strings.Contains(r.ErrMsg, c.msg) {
			t.Errorf("%s: errmsg %q lacks %q", c.name, r.ErrMsg, c.msg)
		}
	}
	r, _ := e.cl.Raw(ctx, "PATCH", "/guests", nil, nil)
	if a := r.Header.Get("Allow"); a != "GET, POST" && a != "POST, GET" {
		t.Errorf("Allow %q", a)
	}
	if n := e.fake.Calls(); n != 1 {
		t.Errorf("bad requests reached the backend: %d calls", n)
	}
}

// TestTokenAuth covers token mode and auth=none.
func TestTokenAuth(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newEnv(t, api.Options{Auth: &api.Auth{
		AdminToken: func() ([]byte, error) { return []byte("s3cret-admin"), nil },
		Validity:   time.Hour, Now: clock,
	}})
	r, err := e.cl.GuestList(ctx)
	want(t, "no token", r, err, 401, 400, 120, 400, 401)
	r, tok, err := e.cl.Token(ctx, "wrong")
	want(t, "wrong admin", r, err, 401, 400, 120, 400, 401)
	if tok != "" {
		t.Error("token for a wrong admin token")
	}
	r, _, err = e.cl.Token(ctx, "")
	want(t, "no admin", r, err, 401, 400, 120, 400, 401)
	r, tok, err = e.cl.Token(ctx, "s3cret-admin")
	ok(t, "token", r, err)
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("token %q", tok)
	}
	h := http.Header{"X-Auth-Token": {tok}}
	r, err = e.cl.Raw(ctx, "GET", "/guests", h, nil)
	ok(t, "with token", r, err)
	r, err = e.cl.Raw(ctx, "GET", "/guests", http.Header{"X-Auth-Token": {tok[:len(tok)-2] + "xx"}}, nil)
	want(t, "forged", r, err, 401, 400, 120, 400, 401)
	r, err = e.cl.Raw(ctx, "GET", "/guests", http.Header{"X-Auth-Token": {"server-auth-closed"}}, nil)
	want(t, "closed token in token mode", r, err, 401, 400, 120, 400, 401)
	// The client of the original fetches a token before every call.
	e.cl.AdminToken = "s3cret-admin"
	r, err = e.cl.GuestList(ctx)
	ok(t, "client with admin token", r, err)
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	r, err = e.cl.Raw(ctx, "GET", "/guests", h, nil)
	want(t, "expired", r, err, 401, 400, 120, 400, 401)
	// Unknown routes are 404 before any token check, as dispatch fails first.
	r, err = e.cl.Raw(ctx, "GET", "/nosuch", nil, nil)
	want(t, "404 without token", r, err, 404, 400, 120, 400, 404)

	for _, secret := range []string{"s3cret-admin", tok, "wrong"} {
		if strings.Contains(e.logs.String(), secret) {
			t.Errorf("log holds a secret %q:\n%s", secret, e.logs.String())
		}
	}

	open := newEnv(t, api.Options{})
	r, tok, err = open.cl.Token(ctx, "")
	ok(t, "auth none token", r, err)
	if tok != api.AuthClosedToken {
		t.Errorf("auth none token %q", tok)
	}
	r, err = open.cl.Raw(ctx, "GET", "/guests", http.Header{"X-Auth-Token": {"garbage"}}, nil)
	ok(t, "auth none ignores tokens", r, err)
}

// TestLogsHoldNoSecrets sends secrets in every place a client could and
// checks the request log.
func TestLogsHoldNoSecrets(t *testing.T) {
	e := newEnv(t, api.Options{})
	ctx := context.Background()
	e.cl.GuestCreate(ctx, "g1", 1, 512, nil)
	e.cl.Raw(ctx, "POST", "/guests/g1/action", http.Header{"Content-Type": {"application/json"}, "X-Auth-Token": {"tok-SECRET1"}, "X-Admin-Token": {"adm-SECRET2"}},
		[]byte(`{"action":"deploy","image":"i","transportfiles":"/secret/SECRET3.iso","remotehost":"nova@10.0.0.1","password":"SECRET4"}`))
	e.cl.Raw(ctx, "GET", "/images?imagename=SECRET5", nil, nil)
	e.fake.Fail("HostInfo", &api.Error{OverallRC: 500, ModID: 1, RC: 500, RS: 1, Msg: "smapi down"}, 1)
	e.cl.HostGetInfo(ctx)
	logs := e.logs.String()
	for _, s := range []string{"SECRET1", "SECRET2", "SECRET3", "SECRET4", "SECRET5"} {
		if strings.Contains(logs, s) {
			t.Errorf("log holds %s:\n%s", s, logs)
		}
	}
	for _, s := range []string{"path=/guests/g1/action", "status=400", "overallRC=400", "status=500", "smapi down"} {
		if !strings.Contains(logs, s) {
			t.Errorf("log lacks %q:\n%s", s, logs)
		}
	}
}

// TestPanicIsAnEnvelope: a backend panic is a 500 envelope, not a
// dropped connection or a stack trace.
func TestPanicIsAnEnvelope(t *testing.T) {
	f := apitest.NewFake()
	srv := httptest.NewServer(api.NewHandler(panicky{f}, api.Options{}))
	defer srv.Close()
	cl := &apitest.Client{Base: srv.URL}
	r, err := cl.HostGetInfo(context.Background())
	want(t, "panic", r, err, 500, 500, 120, 500, 1)
	if strings.Contains(string(r.Raw), "goroutine") {
		t.Errorf("stack trace in reply: %s", r.Raw)
	}
}

type panicky struct{ *apitest.Fake }

func (panicky) HostInfo(context.Context) (api.HostInfo, error) { panic("boom") }
