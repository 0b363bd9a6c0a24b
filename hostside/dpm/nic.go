package dpm

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/hmc"
)

// MaxBootParams is the HMC's limit on boot-os-specific-parameters.
const MaxBootParams = 256

// tokenLen is one NIC's share of the string: " " + "dddd,p,mmmmmmmmmmmm;".
const tokenLen = 1 + 4 + 1 + 1 + 1 + 12 + 1

type token struct {
	devno string
	port  int
	mac   string // 12 hex digits, lower case
}

func (t token) String() string { return fmt.Sprintf("%s,%d,%s;", t.devno, t.port, t.mac) }

var tokenRE = regexp.MustCompile(`([0-9A-Fa-f]{4}),([0-9]),([0-9A-Fa-f]{12});`)

// parseTokens finds the NIC tokens in a boot-os-specific-parameters
// value: space separated or back to back, each starting the value or
// following white space or ";".
func parseTokens(s string) []token {
	var ts []token
	for _, m := range tokenRE.FindAllStringSubmatchIndex(s, -1) {
		if m[0] > 0 && !strings.ContainsRune(" \t\n;", rune(s[m[0]-1])) {
			continue
		}
		ts = append(ts, token{devno: s[m[2]:m[3]], port: int(s[m[4]] - '0'), mac: strings.ToLower(s[m[6]:m[7]])})
	}
	return ts
}

// appendTokens appends " "+token for each, as nova-dpm writes them.
func appendTokens(s string, ts []token) string {
	var b strings.Builder
	b.WriteString(s)
	for _, t := range ts {
		b.WriteString(" ")
		b.WriteString(t.String())
	}
	return b.String()
}

// removeToken drops devno's token (case-insensitive) and the white
// space before it from s.
func removeToken(s, devno string) string {
	re := regexp.MustCompile(`(?i)(^|\s+|;)` + regexp.QuoteMeta(devno) + `,[0-9],[0-9a-f]{12};`)
	return re.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m, ";") {
			return ";"
		}
		return ""
	})
}

// checkLen refuses n more NICs when the combined string would exceed
// the HMC's limit (nova-dpm checked each token alone).
func checkLen(current string, n int) error {
	if total := len(current) + n*tokenLen; total > MaxBootParams {
		have := len(parseTokens(current))
		return &api.Error{OverallRC: 300, ModID: api.ModNetwork, RC: 300, RS: 256,
			Msg: fmt.Sprintf("%d more NICs would make boot-os-specific-parameters %d characters long (the partition has %d NICs, %d characters); the HMC allows %d, i.e. %d NICs", n, total, have, len(current), MaxBootParams, (MaxBootParams-len(current))/tokenLen+have)}
	}
	return nil
}

// normMAC turns "AA:bb:cc:dd:ee:ff" (or 12 hex digits) into 12 lower
// case hex digits; "" stays "".
func normMAC(mac string) (string, error) {
	m := strings.ToLower(strings.NewReplacer(":", "", "-", "").Replace(mac))
	if m == "" {
		return "", nil
	}
	if _, err := hex.DecodeString(m); err != nil || len(m) != 12 {
		return "", fmt.Errorf("MAC %q: want 6 bytes like 02:00:00:00:00:01", mac)
	}
	return m, nil
}

func colonMAC(m string) string {
	var parts []string
	for i := 0; i < 12; i += 2 {
		parts = append(parts, m[i:i+2])
	}
	return strings.Join(parts, ":")
}

// nicReq is one NIC to create.
type nicReq struct {
	name, mac, devno string
}

func nicName(nicID string) string {
	if nicID != "" {
		n := "OpenStack_Port_" + nicID
		return n[:min(len(n), 64)]
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "OpenStack_NIC_" + hex.EncodeToString(b)
}

// addNICs creates the NICs on the default network, reads their device
// numbers back and appends their tokens to the boot string in one
// update. The length is checked first; on any failure the NICs made so
// far are deleted.
func (b *Backend) addNICs(ctx context.Context, userid string, reqs []nicReq) ([]token, error) {
	net, ok := b.nets[b.cfg.DefaultNetwork]
	if !ok {
		return nil, inputErr(api.ModNetwork, "no physical network is mapped to a virtual switch (backend_options.networks)")
	}
	// The cached string is current: it is read when a partition is
	// adopted or looked up and only this backend writes it.
	g, err := b.lookup(ctx, userid)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	current := g.bosp
	b.mu.Unlock()
	if err := checkLen(current, len(reqs)); err != nil {
		return nil, err
	}
	setMAC, err := b.c.AtLeast(ctx, 2, 20)
	if err != nil {
		return nil, hmcErr(api.ModNetwork, "HMC API version", err)
	}
	var made []string
	var toks []token
	fail := func(err error) ([]token, error) {
		b.deleteNICs(userid, made)
		return nil, hmcErr(api.ModNetwork, "create NIC for "+userid, err)
	}
	// Device numbers: the backend chooses them as the HMC would (0001,
	// 0004, ... : a qeth NIC uses three), so that it need not read each
	// NIC back. A number the HMC refuses as not unique (used by something
	// the backend does not track, such as a z13 HBA) is left to the HMC.
	used := map[int]bool{}
	b.mu.Lock()
	for d := range g.nics {
		markDevno(used, d)
	}
	b.mu.Unlock()
	for _, r := range reqs {
		desc := "OpenStack CPCSubset=" + b.cfg.Host
		props := map[string]any{"name": r.name, "virtual-switch-uri": net.vswitchURI}
		if r.mac != "" {
			desc = fmt.Sprintf("OpenStack mac=%s, CPCSubset=%s", colonMAC(r.mac), b.cfg.Host)
			if setMAC {
				props["mac-address"] = colonMAC(r.mac)
			}
		}
		props["description"] = desc
		chosen := false
		if r.devno == "" {
			r.devno, chosen = nextDevno(used), true
		}
		if r.devno != "" {
			props["device-number"] = r.devno
		}
		uri, err := b.c.Create(ctx, g.uri+"/nics", props)
		if chosen && errors.Is(err, hmc.Code(400, 8)) {
			markDevno(used, r.devno) // taken: do not choose it again in this call
			delete(props, "device-number")
			r.devno = ""
			uri, err = b.c.Create(ctx, g.uri+"/nics", props)
		}
		if len(made) == 0 && errors.Is(err, hmc.Code(404, 1)) {
			b.forget(userid)
			return nil, guestNotFound(userid)
		}
		if err != nil {
			return fail(err)
		}
		made = append(made, uri)
		devno, mac := strings.ToUpper(r.devno), r.mac
		if devno == "" || mac == "" {
			nic, err := b.c.GetNIC(ctx, uri)
			if err != nil {
				return fail(err)
			}
			if !isHex(strings.ToLower(nic.DeviceNumber), 4) {
				return fail(fmt.Errorf("NIC %s has device number %q, want 4 hex digits", uri, nic.DeviceNumber))
			}
			devno = nic.DeviceNumber
			if mac == "" {
				if mac, err = normMAC(nic.MACAddress); err != nil || mac == "" {
					return fail(fmt.Errorf("NIC %s: no MAC given and the HMC's is %q", uri, nic.MACAddress))
				}
			}
		}
		markDevno(used, devno)
		toks = append(toks, token{devno: devno, port: net.port, mac: mac})
	}
	bosp := appendTokens(current, toks)
	if err := b.c.Update(ctx, g.uri, map[string]any{"boot-os-specific-parameters": bosp}); err != nil {
		return fail(err)
	}
	b.mu.Lock()
	g.bosp = bosp
	for i, t := range toks {
		g.nics[strings.ToUpper(t.devno)] = made[i]
	}
	b.mu.Unlock()
	b.log.Info("NICs created", "userid", userid, "count", len(toks), "boot_os_specific_parameters", bosp)
	return toks, nil
}

// markDevno records the three device numbers a qeth NIC at devno uses.
func markDevno(used map[int]bool, devno string) {
	v, err := strconv.ParseUint(devno, 16, 16)
	if err != nil {
		return
	}
	for i := 0; i < 3; i++ {
		used[int(v)+i] = true
	}
}

// nextDevno returns the first free group of three device numbers, in
// steps of three from 0001 as the HMC allocates them, or "" if none is
// free (then the HMC chooses).
func nextDevno(used map[int]bool) string {
	for d := 1; d+2 <= 0xffff; d += 3 {
		if !used[d] && !used[d+1] && !used[d+2] {
			return fmt.Sprintf("%04X", d)
		}
	}
	return ""
}

// deleteNICs removes NICs of a failed call, with its own context.
func (b *Backend) deleteNICs(userid string, uris []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, u := range uris {
		if err := b.c.Delete(ctx, u); err != nil && !hmc.IsStatus(err, 404) {
			b.log.Error("could not delete the NIC of a failed call; the next daemon start deletes it", "userid", userid, "uri", u, "error", err)
		}
	}
}

// BootParams returns the partition's boot-os-specific-parameters.
func (b *Backend) BootParams(ctx context.Context, userid string) (string, error) {
	_, p, err := b.partition(ctx, userid)
	if err != nil {
		return "", err
	}
	return p.BootOSSpecificParameters, nil
}

// CreateNetworkInterface creates one NIC per guest network (package doc).
func (b *Backend) CreateNetworkInterface(ctx context.Context, userid string, n api.InterfaceSpec) ([]api.GuestNetwork, error) {
	if len(n.GuestNetworks) == 0 {
		return nil, inputErr(api.ModNetwork, "no guest networks given")
	}
	reqs := make([]nicReq, len(n.GuestNetworks))
	for i, gn := range n.GuestNetworks {
		mac, err := normMAC(gn.MACAddr)
		if err != nil {
			return nil, inputErr(api.ModNetwork, "guest network %d: %v", i, err)
		}
		reqs[i] = nicReq{name: nicName(gn.NICID), mac: mac}
	}
	toks, err := b.addNICs(ctx, userid, reqs)
	if err != nil {
		return nil, err
	}
	out := make([]api.GuestNetwork, len(toks))
	for i, t := range toks {
		out[i] = n.GuestNetworks[i]
		out[i].NICVdev = t.devno
		out[i].MACAddr = colonMAC(t.mac)
	}
	return out, nil
}

// CreateNIC creates one NIC, with n.Vdev as its device number if given.
func (b *Backend) CreateNIC(ctx context.Context, userid string, n api.NICSpec) (api.NICSpec, error) {
	mac, err := normMAC(n.MACAddr)
	if err != nil {
		return api.NICSpec{}, inputErr(api.ModNetwork, "%v", err)
	}
	if n.Vdev != "" && !isHex(strings.ToLower(n.Vdev), 4) {
		return api.NICSpec{}, inputErr(api.ModNetwork, "vdev %q: want 4 hex digits", n.Vdev)
	}
	toks, err := b.addNICs(ctx, userid, []nicReq{{name: nicName(n.NICID), mac: mac, devno: strings.ToUpper(n.Vdev)}})
	if err != nil {
		return api.NICSpec{}, err
	}
	n.Vdev, n.MACAddr = toks[0].devno, colonMAC(toks[0].mac)
	return n, nil
}

// findNIC returns the URI of userid's NIC with device number vdev.
func (b *Backend) findNIC(ctx context.Context, userid, vdev string) (*guest, string, error) {
	g, err := b.lookup(ctx, userid)
	if err != nil {
		return nil, "", err
	}
	b.mu.Lock()
	uri := g.nics[strings.ToUpper(vdev)]
	b.mu.Unlock()
	if uri == "" {
		return nil, "", &api.Error{OverallRC: 404, ModID: api.ModNetwork, RC: 404, RS: 1, Msg: fmt.Sprintf("Guest '%s' has no NIC %s", userid, vdev)}
	}
	return g, uri, nil
}

// CoupleNIC checks that c.VSwitch (a physical network name, or "") is
// the NIC's virtual switch; DPM NICs are coupled when they are created.
func (b *Backend) CoupleNIC(ctx context.Context, userid, vdev string, c api.Couple) error {
	if !c.Couple {
		return unsupported("uncoupling a NIC (delete it instead)")
	}
	_, uri, err := b.findNIC(ctx, userid, vdev)
	if err != nil {
		return err
	}
	if c.VSwitch == "" {
		return nil
	}
	net, ok := b.nets[c.VSwitch]
	if !ok {
		return inputErr(api.ModNetwork, "physical network %q is not mapped to a virtual switch", c.VSwitch)
	}
	nic, err := b.c.GetNIC(ctx, uri)
	if err != nil {
		return hmcErr(api.ModNetwork, "read NIC "+vdev, err)
	}
	if nic.VirtualSwitchURI != net.vswitchURI {
		return &api.Error{OverallRC: 409, ModID: api.ModNetwork, RC: 409, RS: 1, Msg: fmt.Sprintf("NIC %s of '%s' is on %s, not on physical network %s's switch; delete it and create it there", vdev, userid, nic.VirtualSwitchURI, c.VSwitch)}
	}
	return nil
}

// DeleteNIC deletes the NIC and drops its token from the boot string.
func (b *Backend) DeleteNIC(ctx context.Context, userid, vdev string, active bool) error {
	g, uri, err := b.findNIC(ctx, userid, vdev)
	if err != nil {
		return err
	}
	p, err := b.c.GetPartition(ctx, g.uri)
	if err != nil {
		return hmcErr(api.ModNetwork, "read "+userid, err)
	}
	if bosp := removeToken(p.BootOSSpecificParameters, vdev); bosp != p.BootOSSpecificParameters {
		if err := b.c.Update(ctx, g.uri, map[string]any{"boot-os-specific-parameters": bosp}); err != nil {
			return hmcErr(api.ModNetwork, "update the boot parameters of "+userid, err)
		}
		g.bosp = bosp
	}
	if err := b.c.Delete(ctx, uri); err != nil && !hmc.IsStatus(err, 404) {
		return hmcErr(api.ModNetwork, "delete NIC "+vdev, err)
	}
	b.mu.Lock()
	delete(g.nics, strings.ToUpper(vdev))
	b.mu.Unlock()
	return nil
}

// DeleteNetworkInterface is DeleteNIC.
func (b *Backend) DeleteNetworkInterface(ctx context.Context, userid, osVersion, vdev string, active bool) error {
	return b.DeleteNIC(ctx, userid, vdev, active)
}

// The rest of api.Backend has no DPM counterpart.

func (b *Backend) ConsoleOutput(ctx context.Context, userid string) (string, error) {
	return "", unsupported("console output")
}
func (b *Backend) ConfigMinidisks(ctx context.Context, userid string, disks []api.Disk) error {
	return unsupported("minidisks")
}

var _ api.Backend = (*Backend)(nil)
