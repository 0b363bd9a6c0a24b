package api

import (
	"fmt"
	"net/http"
)

// action is POST /guests/{userid}/action (handlers/guest.py guest_action):
// the body's "action" names a VMAction method, the rest are its
// arguments, checked with that method's schema.
func (h *Handler) action(c *call) (any, error) {
	v, e := readJSON(c.r)
	if e != nil {
		return nil, e
	}
	body, _ := v.(map[string]any)
	name, has := body["action"]
	if len(body) == 0 || !has {
		return nil, wsgiError(http.StatusBadRequest, "action not exist or is empty")
	}
	delete(body, "action")
	act, _ := name.(string)
	switch act {
	case "start":
		return h.power(c, body, schemaStart, act)
	case "stop", "softstop":
		return h.power(c, body, schemaStop, act)
	case "pause", "unpause", "reboot", "reset":
		return h.power(c, body, nil, act)
	case "get_console_output":
		return h.withGuest(c, func() (any, error) { return h.b.ConsoleOutput(c.ctx, c.userid) })
	case "deploy":
		return h.deploy(c, body)
	case "capture":
		return h.capture(c, body)
	case "register_vm", "deregister_vm", "live_migrate_vm", "resize_cpus", "live_resize_cpus",
		"resize_mem", "live_resize_mem", "grow_root_volume":
		return nil, notImplemented(ModGuest, "guest_"+act)
	}
	return nil, wsgiError(http.StatusBadRequest, fmt.Sprintf("action %s is invalid", pyStr(name)))
}

func (h *Handler) power(c *call, body map[string]any, s *schema, act string) (any, error) {
	a := PowerAction{Name: act}
	if s != nil {
		if _, e := checkBody(s, body); e != nil {
			return nil, e
		}
		var err error
		if a.Timeout, err = getIntErr(body, "timeout"); err != nil {
			return nil, err
		}
		if a.PollInterval, err = getIntErr(body, "poll_interval"); err != nil {
			return nil, err
		}
	}
	return h.withGuest(c, func() (any, error) { return nil, h.b.Action(c.ctx, c.userid, a) })
}

// acquireSlot takes a deploy/capture slot without waiting; the 503 is
// returncode.py errors['serviceUnavail'] rs 1 with the request's summary.
func (h *Handler) acquireSlot(info string) (func(), error) {
	select {
	case h.slots <- struct{}{}:
		h.obs().Deploys(1)
		return func() { <-h.slots; h.obs().Deploys(-1) }, nil
	default:
		h.obs().Rejected("deploy_slots")
		return nil, &Error{OverallRC: 503, ModID: ModWSGI, RC: 503, RS: 1,
			Msg: "Max concurrent deploy/capture requests received, request is rejected. " + info}
	}
}

func (h *Handler) deploy(c *call, body map[string]any) (any, error) {
	if _, e := checkBody(schemaDeploy, body); e != nil {
		return nil, e
	}
	d := DeploySpec{
		Image:          getStr(body, "image"),
		TransportFiles: getStr(body, "transportfiles"),
		RemoteHost:     getStr(body, "remotehost"),
		Vdev:           getStr(body, "vdev"),
		Hostname:       getStr(body, "hostname"),
		SkipDiskCopy:   getBool(body, "skipdiskcopy"),
	}
	if e := checkImageRef("image", d.Image); e != nil {
		return nil, e
	}
	if d.TransportFiles != "" && d.RemoteHost == "" {
		if e := h.checkSource("transportfiles", d.TransportFiles); e != nil {
			return nil, e
		}
	}
	info := fmt.Sprintf("action: 'deploy', userid: %s,transportfiles: %s, remotehost: %s,vdev: %s, skipdiskcopy: %s",
		c.rawUID, pyStr(body["transportfiles"]), pyStr(body["remotehost"]), pyStr(body["vdev"]), pyRepr(d.SkipDiskCopy))
	release, err := h.acquireSlot(info)
	if err != nil {
		return nil, err
	}
	defer release()
	return h.withGuest(c, func() (any, error) { return nil, h.b.Deploy(c.ctx, c.userid, d) })
}

func (h *Handler) capture(c *call, body map[string]any) (any, error) {
	if _, e := checkBody(schemaCapture, body); e != nil {
		return nil, e
	}
	cs := CaptureSpec{Image: getStr(body, "image"), CaptureType: getStr(body, "capture_type")}
	if e := checkName("image", cs.Image); e != nil {
		return nil, e
	}
	if cs.CaptureType == "" {
		cs.CaptureType = "rootonly"
	}
	var err error
	if cs.CompressLevel, err = getIntErr(body, "compress_level"); err != nil {
		return nil, err
	}
	if _, given := body["compress_level"]; !given {
		cs.CompressLevel = 6 // [image] default_compress_level
	}
	info := fmt.Sprintf("action: 'capture', userid: %s,image name: %s, capture type: %s,compress level: %d",
		c.rawUID, cs.Image, cs.CaptureType, cs.CompressLevel)
	release, err := h.acquireSlot(info)
	if err != nil {
		return nil, err
	}
	defer release()
	cp, ok := h.b.(Capturer)
	if !ok {
		return nil, notImplemented(ModGuest, "guest_capture")
	}
	return h.withGuest(c, func() (any, error) { return nil, cp.Capture(c.ctx, c.userid, cs) })
}
