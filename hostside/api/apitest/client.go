package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Client speaks the cloud connector REST API as docs/facts/zvm-connector.md section 3 tables
// it (the zvmconnector REST client's DATABASE of paths and bodies): every
// body is built here as a map, and every answer is read as the generic
// envelope, so the tests check the wire, not package api's types.
type Client struct {
	Base       string // http(s)://host:port
	HTTP       *http.Client
	AdminToken string // token mode: fetch a token before every call, as restclient.py does
}

// Reply is one answer: the HTTP status, headers and the envelope.
type Reply struct {
	Status    int
	Header    http.Header
	Raw       []byte
	OverallRC int             `json:"overallRC"`
	ModID     *int            `json:"modID"`
	RC        int             `json:"rc"`
	RS        int             `json:"rs"`
	ErrMsg    string          `json:"errmsg"`
	Output    json.RawMessage `json:"output"`
}

// Err describes a non-success reply in one line (for test messages).
func (r *Reply) Err() string {
	return fmt.Sprintf("HTTP %d overallRC %d modID %v rc %d rs %d: %s", r.Status, r.OverallRC, r.modID(), r.RC, r.RS, r.ErrMsg)
}

func (r *Reply) modID() any {
	if r.ModID == nil {
		return nil
	}
	return *r.ModID
}

// Out decodes the output into v.
func (r *Reply) Out(v any) error { return json.Unmarshal(r.Output, v) }

// Token does POST /token with X-Admin-Token and returns X-Auth-Token.
func (c *Client) Token(ctx context.Context, admin string) (*Reply, string, error) {
	h := http.Header{}
	if admin != "" {
		h.Set("X-Admin-Token", admin)
	}
	r, err := c.Raw(ctx, "POST", "/token", h, nil)
	if err != nil {
		return nil, "", err
	}
	return r, r.Header.Get("X-Auth-Token"), nil
}

// Call sends method path with body (nil: none) as JSON, getting a token
// first in token mode.
func (c *Client) Call(ctx context.Context, method, path string, body any) (*Reply, error) {
	h := http.Header{}
	if c.AdminToken != "" {
		_, tok, err := c.Token(ctx, c.AdminToken)
		if err != nil {
			return nil, err
		}
		h.Set("X-Auth-Token", tok)
	}
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return nil, err
		}
		h.Set("Content-Type", "application/json")
	}
	return c.Raw(ctx, method, path, h, b)
}

// Raw sends exactly the given headers and body.
func (c *Client) Raw(ctx context.Context, method, path string, h http.Header, body []byte) (*Reply, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.Base, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	r := &Reply{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return r, fmt.Errorf("%s %s: Content-Type %q, not JSON (restclient.py: overallRC 101 rs 3): %s", method, path, ct, raw)
	}
	if err := json.Unmarshal(raw, r); err != nil {
		return r, fmt.Errorf("%s %s: envelope: %w: %s", method, path, err, raw)
	}
	return r, nil
}

// The SDK calls nova makes (table 3.3), with the table's bodies.

func (c *Client) Version(ctx context.Context) (*Reply, error) { return c.Call(ctx, "GET", "/", nil) }
func (c *Client) HostGetInfo(ctx context.Context) (*Reply, error) {
	return c.Call(ctx, "GET", "/host", nil)
}
func (c *Client) GuestList(ctx context.Context) (*Reply, error) {
	return c.Call(ctx, "GET", "/guests", nil)
}

// GuestCreate is guest_create(name, vcpus, memory_mb, disk_list=).
func (c *Client) GuestCreate(ctx context.Context, userid string, vcpus, memoryMB int, disks []map[string]any) (*Reply, error) {
	g := map[string]any{"userid": userid, "vcpus": vcpus, "memory": memoryMB}
	if disks != nil {
		g["disk_list"] = disks
	}
	return c.Call(ctx, "POST", "/guests", map[string]any{"guest": g})
}

func (c *Client) action(ctx context.Context, userid string, body map[string]any) (*Reply, error) {
	return c.Call(ctx, "POST", "/guests/"+url.PathEscape(userid)+"/action", body)
}

// GuestDeploy is guest_deploy(name, image, transportfiles=, remotehost=).
func (c *Client) GuestDeploy(ctx context.Context, userid, image, transportfiles, remotehost string) (*Reply, error) {
	b := map[string]any{"action": "deploy", "image": image}
	if transportfiles != "" {
		b["transportfiles"] = transportfiles
	}
	if remotehost != "" {
		b["remotehost"] = remotehost
	}
	return c.action(ctx, userid, b)
}

// GuestAction sends {"action": name} plus extra fields (start, stop,
// softstop, reboot, reset, pause, unpause, get_console_output, capture).
func (c *Client) GuestAction(ctx context.Context, userid, name string, extra map[string]any) (*Reply, error) {
	b := map[string]any{"action": name}
	for k, v := range extra {
		b[k] = v
	}
	return c.action(ctx, userid, b)
}

// GuestConfigMinidisks is guest_config_minidisks(name, eph_list).
func (c *Client) GuestConfigMinidisks(ctx context.Context, userid string, disks []map[string]any) (*Reply, error) {
	return c.Call(ctx, "PUT", "/guests/"+url.PathEscape(userid)+"/disks", map[string]any{"disk_info": map[string]any{"disk_list": disks}})
}

// GuestCreateNetworkInterface is guest_create_network_interface(name, distro, nets).
func (c *Client) GuestCreateNetworkInterface(ctx context.Context, userid, osVersion string, nets []map[string]any) (*Reply, error) {
	return c.Call(ctx, "POST", "/guests/"+url.PathEscape(userid)+"/interface",
		map[string]any{"interface": map[string]any{"os_version": osVersion, "guest_networks": nets}})
}

// GuestDeleteNetworkInterface is DELETE /guests/{uid}/interface.
func (c *Client) GuestDeleteNetworkInterface(ctx context.Context, userid, osVersion, vdev string, active bool) (*Reply, error) {
	return c.Call(ctx, "DELETE", "/guests/"+url.PathEscape(userid)+"/interface",
		map[string]any{"interface": map[string]any{"os_version": osVersion, "vdev": vdev, "active": active}})
}

func (c *Client) GuestGetPowerState(ctx context.Context, userid string) (*Reply, error) {
	return c.Call(ctx, "GET", "/guests/"+url.PathEscape(userid)+"/power_state", nil)
}

func (c *Client) GuestGetInfo(ctx context.Context, userid string) (*Reply, error) {
	return c.Call(ctx, "GET", "/guests/"+url.PathEscape(userid)+"/info", nil)
}

func (c *Client) GuestDelete(ctx context.Context, userid string) (*Reply, error) {
	return c.Call(ctx, "DELETE", "/guests/"+url.PathEscape(userid), nil)
}

// GuestCreateNIC is POST /guests/{uid}/nic.
func (c *Client) GuestCreateNIC(ctx context.Context, userid string, nic map[string]any) (*Reply, error) {
	return c.Call(ctx, "POST", "/guests/"+url.PathEscape(userid)+"/nic", map[string]any{"nic": nic})
}

// GuestCoupleNIC is PUT /guests/{uid}/nic/{vdev}.
func (c *Client) GuestCoupleNIC(ctx context.Context, userid, vdev string, info map[string]any) (*Reply, error) {
	return c.Call(ctx, "PUT", "/guests/"+url.PathEscape(userid)+"/nic/"+url.PathEscape(vdev), map[string]any{"info": info})
}

// GuestDeleteNIC is DELETE /guests/{uid}/nic/{vdev}.
func (c *Client) GuestDeleteNIC(ctx context.Context, userid, vdev string, active bool) (*Reply, error) {
	return c.Call(ctx, "DELETE", "/guests/"+url.PathEscape(userid)+"/nic/"+url.PathEscape(vdev), map[string]any{"active": active})
}

// ImageQuery is image_query(imagename=); "" lists all.
func (c *Client) ImageQuery(ctx context.Context, name string) (*Reply, error) {
	p := "/images"
	if name != "" {
		p += "?imagename=" + url.QueryEscape(name)
	}
	return c.Call(ctx, "GET", p, nil)
}

// ImageImport is image_import(id, url, meta, remote_host=).
func (c *Client) ImageImport(ctx context.Context, name, u string, meta map[string]any, remoteHost string) (*Reply, error) {
	im := map[string]any{"image_name": name, "url": u, "image_meta": meta}
	if remoteHost != "" {
		im["remote_host"] = remoteHost
	}
	return c.Call(ctx, "POST", "/images", map[string]any{"image": im})
}

func (c *Client) ImageGetRootDiskSize(ctx context.Context, name string) (*Reply, error) {
	return c.Call(ctx, "GET", "/images/"+url.PathEscape(name)+"/root_disk_size", nil)
}

// ImageExport is image_export(id, dest, remote_host=).
func (c *Client) ImageExport(ctx context.Context, name, dest string) (*Reply, error) {
	return c.Call(ctx, "PUT", "/images/"+url.PathEscape(name), map[string]any{"location": map[string]any{"dest_url": dest}})
}

func (c *Client) ImageDelete(ctx context.Context, name string) (*Reply, error) {
	return c.Call(ctx, "DELETE", "/images/"+url.PathEscape(name), nil)
}
