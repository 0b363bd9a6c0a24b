// Package apitest holds a stateful fake api.Backend and a REST client of
// the cloud connector API written from the reference's tables (docs/facts/zvm-connector.md
// section 3), not from package api's types, for black-box tests.
package apitest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zguest/zguest/hostside/api"
)

var _ api.Backend = (*Fake)(nil)

// Fake is an in-memory hypervisor host: guests with power state, disks
// and NICs, and images. Errors and slowness can be injected per method;
// it counts concurrent calls so tests can check serialization and limits.
// The zero value is not usable; use NewFake.
type Fake struct {
	mu     sync.Mutex
	guests map[string]*FakeGuest
	images map[string]*api.Image
	fail   map[string][]error
	delay  map[string]time.Duration
	gates  map[string]chan struct{}

	inflight    map[string]int // method -> running calls
	maxInflight map[string]int
	perGuest    map[string]int // userid -> running calls
	overlaps    atomic.Int64   // calls that ran while another ran for the same userid
	calls       atomic.Int64
}

// FakeGuest is one guest of a Fake.
type FakeGuest struct {
	Spec      api.GuestSpec
	Power     string // "on" / "off"
	Disks     []api.Disk
	NICs      map[string]api.NICSpec // vdev -> NIC
	Couples   map[string]api.Couple
	OSVersion string
	Image     string // deployed image
	Transport string // transportfiles of the last deploy
	Networks  []api.GuestNetwork
}

// NewFake returns an empty host.
func NewFake() *Fake {
	return &Fake{
		guests: map[string]*FakeGuest{}, images: map[string]*api.Image{},
		fail: map[string][]error{}, delay: map[string]time.Duration{}, gates: map[string]chan struct{}{},
		inflight: map[string]int{}, maxInflight: map[string]int{}, perGuest: map[string]int{},
	}
}

// Fail makes the next n calls of method return err.
func (f *Fake) Fail(method string, err error, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.fail[method] = append(f.fail[method], err)
	}
}

// Delay makes every call of method take d (or until its context ends).
func (f *Fake) Delay(method string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delay[method] = d
}

// Hold makes calls of method wait (after counting themselves as in
// flight) until the returned release is called.
func (f *Fake) Hold(method string) (release func()) {
	ch := make(chan struct{})
	f.mu.Lock()
	f.gates[method] = ch
	f.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			delete(f.gates, method)
			f.mu.Unlock()
			close(ch)
		})
	}
}

// Inflight is how many calls of method are running now.
func (f *Fake) Inflight(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inflight[method]
}

// MaxInflight is the most calls of method that ran at once.
func (f *Fake) MaxInflight(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.maxInflight[method]
}

// Overlaps counts calls that ran while another call for the same userid
// was running: the REST layer's serialization makes it 0.
func (f *Fake) Overlaps() int64 { return f.overlaps.Load() }

// Calls counts every call.
func (f *Fake) Calls() int64 { return f.calls.Load() }

// Guest returns a copy of a guest's state.
func (f *Fake) Guest(userid string) (FakeGuest, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.guests[userid]
	if !ok {
		return FakeGuest{}, false
	}
	return *g, true
}

// enter is the common prologue: counts, injected error, delay. The
// returned function is the epilogue.
func (f *Fake) enter(ctx context.Context, method, userid string) (func(), error) {
	f.calls.Add(1)
	f.mu.Lock()
	f.inflight[method]++
	if f.inflight[method] > f.maxInflight[method] {
		f.maxInflight[method] = f.inflight[method]
	}
	if userid != "" {
		if f.perGuest[userid] > 0 {
			f.overlaps.Add(1)
		}
		f.perGuest[userid]++
	}
	var err error
	if q := f.fail[method]; len(q) > 0 {
		err, f.fail[method] = q[0], q[1:]
	}
	d := f.delay[method]
	gate := f.gates[method]
	f.mu.Unlock()
	leave := func() {
		f.mu.Lock()
		f.inflight[method]--
		if userid != "" {
			f.perGuest[userid]--
		}
		f.mu.Unlock()
	}
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			leave()
			return nil, ctx.Err()
		}
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			leave()
			return nil, ctx.Err()
		}
	}
	if err != nil {
		leave()
		return nil, err
	}
	return leave, nil
}

// SMAPI-style and module errors, with the codes the original returns.

// ErrGuestNotFound is SMAPI 400/4 passed through (overallRC 8).
func ErrGuestNotFound(userid string) *api.Error {
	return &api.Error{OverallRC: 8, ModID: api.ModSMT, RC: 400, RS: 4, Msg: fmt.Sprintf("Image_Query_DM: %s: image not found", userid)}
}

// ErrGuestExists is SMAPI 400/8.
func ErrGuestExists(userid string) *api.Error {
	return &api.Error{OverallRC: 8, ModID: api.ModSMT, RC: 400, RS: 8, Msg: fmt.Sprintf("Image_Create_DM: %s: image definition already exists", userid)}
}

// ErrLocked is SMAPI 400/12 (image locked).
func ErrLocked(userid string) *api.Error {
	return &api.Error{OverallRC: 8, ModID: api.ModSMT, RC: 400, RS: 12, Msg: fmt.Sprintf("%s: image definition is locked", userid)}
}

// ErrImageNotFound is errors['image'] rs 20.
func ErrImageNotFound(name string) *api.Error {
	return &api.Error{OverallRC: 300, ModID: api.ModImage, RC: 300, RS: 20, Msg: fmt.Sprintf("The image record of %s does not exist", name)}
}

// ErrImageExists is errors['image'] rs 13.
func ErrImageExists(name string) *api.Error {
	return &api.Error{OverallRC: 300, ModID: api.ModImage, RC: 300, RS: 13, Msg: fmt.Sprintf("Image import error: image name %s already exist in image database", name)}
}

// ErrGuestOff is the guest-module error rs 5 that actions on a stopped
// guest get (mapped to 409).
func ErrGuestOff(userid string) *api.Error {
	return &api.Error{OverallRC: 300, ModID: api.ModGuest, RC: 300, RS: 5, Msg: fmt.Sprintf("guest %s is not running", userid)}
}

func (f *Fake) HostInfo(ctx context.Context) (api.HostInfo, error) {
	leave, err := f.enter(ctx, "HostInfo", "")
	if err != nil {
		return api.HostInfo{}, err
	}
	defer leave()
	f.mu.Lock()
	defer f.mu.Unlock()
	used := 0
	for _, g := range f.guests {
		used += g.Spec.VCPUs
	}
	return api.HostInfo{
		HypervisorHostname: "FAKEHOST", HypervisorType: "zvm", HypervisorVersion: 720,
		VCPUs: 16, VCPUsUsed: float64(used), MemoryMB: 65536, DiskTotal: 1000, DiskAvailable: 1000,
		IPLTime: "IPL at 01/02/26 03:04:05 UTC",
		CPUInfo: api.CPUInfo{CECModel: "3931", Architecture: "s390x"},
		ZVMHost: "FAKEHOST", ZCCUserID: "ZCC",
	}, nil
}

func (f *Fake) ListGuests(ctx context.Context) ([]string, error) {
	leave, err := f.enter(ctx, "ListGuests", "")
	if err != nil {
		return nil, err
	}
	defer leave()
	f.mu.Lock()
	defer f.mu.Unlock()
	l := make([]string, 0, len(f.guests))
	for u := range f.guests {
		l = append(l, u)
	}
	sort.Strings(l)
	return l, nil
}

func (f *Fake) CreateGuest(ctx context.Context, g api.GuestSpec) ([]api.Disk, error) {
	leave, err := f.enter(ctx, "CreateGuest", g.UserID)
	if err != nil {
		return nil, err
	}
	defer leave()
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.guests[g.UserID]; ok {
		return nil, ErrGuestExists(g.UserID)
	}
	disks := slices.Clone(g.DiskList)
	next := 0x100
	for i := range disks {
		if disks[i].Vdev == "" {
			disks[i].Vdev = fmt.Sprintf("%04X", next)
		}
		next++
	}
	f.guests[g.UserID] = &FakeGuest{Spec: g, Power: "off", Disks: disks,
		NICs: map[string]api.NICSpec{}, Couples: map[string]api.Couple{}}
	return disks, nil
}

// guest returns the guest or the original's 404 (check_guest_exist); f.mu is held.
func (f *Fake) guest(userid string) (*FakeGuest, error) {
	g, ok := f.guests[userid]
	if !ok {
		return nil, api.GuestNotExist(userid)
	}
	return g, nil
}

func (f *Fake) DeleteGuest(ctx context.Context, userid string) error {
	leave, err := f.enter(ctx, "DeleteGuest", userid)
	if err != nil {
		return err
	}
	defer leave()
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.guests, userid) // the original tolerates 400/4 on delete
	return nil
}

func (f *Fake) GuestInfo(ctx context.Context, userid string) (api.GuestInfo, error) {
	leave, err := f.enter(ctx, "GuestInfo", userid)
	if err != nil {
		return api.GuestInfo{}, err
	}
	defer leave()
	f.mu.Lock()
	defer f.mu.Unlock()
	g, err := f.guest(userid)
	if err != nil {
		return api.GuestInfo{}, err
	}
	kb := int64(g.Spec.Memory) * 1024
	return api.GuestInfo{PowerState: g.Power, MaxMemKB: kb, MemKB: kb, NumCPU: g.Spec.VCPUs}, nil
}

func (f *Fake) PowerState(ctx context.Context, userid string) (string, error) {
	leave, err := f.enter(ctx, "PowerState", userid)
	if err != nil {
		return "", err
	}
	defer leave()
	f.mu.Lock()
	defer f.mu.Unlock()
	g, err := f.guest(userid)
	if err != nil {
		return "", err
	}
	return g.Power, nil
}

func (f *Fake) Action(ctx context.Context, userid string, a api.PowerAction) error {
	leave, err := f.enter(ctx, "Action", userid)
	if err != nil {
		return err
	}
	defer leave()
	f.mu.Lock()
	defer f.mu.Unlock()
	g, err := f.guest(userid)
	if err != nil {
		return err
	}
	switch a.Name {
	case "start", "unpause", "reset":
		g.Power = "on"
	case "stop", "softstop":
		g.Power = "off"
	case "reboot", "pause":
		if g.Power != "on" {
			return ErrGuestOff(userid)
		}
	default:
		return fmt.Errorf("fake: unknown action %q", a.Name)
	}
	return nil
}

func (f *Fake) ConsoleOutput(ctx context.Context, userid string) (string, error) {
	leave, err := f.enter(ctx, "ConsoleOutput", userid)
	if err != nil {
		return "", err
	}
	defer leave()
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.guest(userid); err != nil {
		return "", err
	}
	return "fake console of " + userid + "\n", nil
}

func (f *Fake) Deploy(ctx context.Context, userid string, d api.DeploySpec) error {
	leave, err := f.enter(ctx, "Deploy", userid)
	if err != nil {
		return err
	}
	defer leave()
	f.mu.Lock()
	defer f.mu.Unlock()
	g, err := f.guest(userid)
	if err != nil {
		return err
	}
	im, ok := f.images[d.Image]
	if !ok {
		return ErrImageNotFound(d.Image)
	}
	g.Image, g.OSVersion, g.Transport = d.Image, im.ImageOSDistro, d.TransportFiles
	return nil
}

func (f *Fake) ConfigMinidisks(ctx context.Context, userid string, disks []api.Disk) error {
	leave, err := f.enter(ctx, "ConfigMinidisks", userid)
	if err != nil {
		return err
	}
	defer leave()
	f.mu.Lock()
	defer f.mu.Unlock()
	_, err = f.guest(userid)
	return err
}

func (f *Fake) CreateNetworkInterface(ctx context.Context, userid string, n api.InterfaceSpec) ([]api.GuestNetwork, error) {
	leave, err := f.enter(ctx, "CreateNetworkInterface", userid)
	if err != nil {
		return nil, err
	}
	defer leave()
	f.mu.Lock()
	defer f.mu.Unlock()
	g, err := f.guest(userid)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(n.GuestNetworks)
	for i := range out {
		if out[i].NICVdev == "" {
			out[i].NICVdev = f.nextVdev(g)
		}
		g.NICs[out[i].NICVdev] = api.NICSpec{Vdev: out[i].NICVdev, NICID: out[i].NICID, MACAddr: out[i].MACAddr}
	}
	g.OSVersion = n.OSVersion
	g.Networks = append(g.Networks, out...)
	return out, nil
}

// nextVdev is 1000 for the first NIC and the highest + 3 after.
func (f *Fake) nextVdev(g *FakeGuest) string {
	hi := -1
	for v := range g.NICs {
		var n int
		fmt.Sscanf(v, "%X", &n)
		hi = max(hi, n)
	}
	if hi < 0 {
		return "1000"
	}
	return fmt.Sprintf("%04X", hi+3)
}

func (f *Fake) DeleteNetworkInterface(ctx context.Context, userid string, osVersion, vdev string, active bool) error {
	leave, err := f.enter(ctx, "DeleteNetworkInterface", userid)
	if err != nil {
		return err
	}
	defer leave()
	f.mu.Lock()
	defer f.mu.Unlock()
	g, err := f.guest(userid)
	if err != nil {
		return err
	}
	delete(g.NICs, strings.ToUpper(vdev))
	return nil
}

func (f *Fake) CreateNIC(ctx context.Context, userid string, n api.NICSpec) (api.NICSpec, error) {
	leave, err := f.enter(ctx, "CreateNIC", userid)
	if err != nil {
		return api.NICSpec{}, err
	}
	defer leave()
	f.mu.Lock()
	defer f.mu.Unlock()
	g, err := f.guest(userid)
	if err != nil {
		return api.NICSpec{}, err
	}
	if n.Vdev == "" {
		n.Vdev = f.nextVdev(g)
	}
	n.Vdev = strings.ToUpper(n.Vdev)
	if _, dup := g.NICs[n.Vdev]; dup {
		return api.NICSpec{}, &api.Error{OverallRC: 409, ModID: api.ModNetwork, RC: 409, RS: 6,
			Msg: fmt.Sprintf("Failed to create nic %s for guest %s, error: vdev in use", n.Vdev, userid)}
	}
	g.NICs[n.Vdev] = n
	return n, nil
}

func (f *Fake) CoupleNIC(ctx context.Context, userid, vdev string, c api.Couple) error {
	leave, err := f.enter(ctx, "CoupleNIC", userid)
	if err != nil {
		return err
	}
	defer leave()
	f.mu.Lock()
	defer f.mu.Unlock()
	g, err := f.guest(userid)
	if err != nil {
		return err
	}
	if _, ok := g.NICs[vdev]; !ok {
		return &api.Error{OverallRC: 409, ModID: api.ModNetwork, RC: 409, RS: 10,
			Msg: fmt.Sprintf("Failed to couple nic %s of guest %s with vswitch %s, error: no such NIC", vdev, userid, c.VSwitch)}
	}
	if c.Couple {
		g.Couples[vdev] = c
	} else {
		delete(g.Couples, vdev)
	}
	return nil
}

func (f *Fake) DeleteNIC(ctx context.Context, userid, vdev string, active bool) error {
	leave, err := f.enter(ctx, "DeleteNIC", userid)
	if err != nil {
		return err
	}
	defer leave()
	f.mu.Lock()
	defer f.mu.Unlock()
	g, err := f.guest(userid)
	if err != nil {
		return err
	}
	delete(g.NICs, vdev)
	delete(g.Couples, vdev)
	return nil
}

func (f *Fake) ImportImage(ctx context.Context, im api.ImageImport) error {
	leave, err := f.enter(ctx, "ImportImage", "")
	if err != nil {
		return err
	}
	defer leave()
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.images[im.ImageName]; ok {
		return ErrImageExists(im.ImageName)
	}
	f.images[im.ImageName] = &api.Image{
		ImageName: im.ImageName, ImageOSDistro: im.ImageMeta["os_version"], MD5Sum: im.ImageMeta["md5sum"],
		DiskSizeUnits: "3338:CYL", ImageSizeInBytes: "1024", Type: "rootonly",
		ImagePath: "/var/lib/zguest/images/" + im.ImageName,
	}
	return nil
}

func (f *Fake) QueryImages(ctx context.Context, name string) ([]api.Image, error) {
	leave, err := f.enter(ctx, "QueryImages", "")
	if err != nil {
		return nil, err
	}
	defer leave()
	f.mu.Lock()
	defer f.mu.Unlock()
	if name != "" {
		im, ok := f.images[name]
		if !ok {
			return nil, api.ImageNotExist(name)
		}
		return []api.Image{*im}, nil
	}
	l := make([]api.Image, 0, len(f.images))
	for _, im := range f.images {
		l = append(l, *im)
	}
	sort.Slice(l, func(i, j int) bool { return l[i].ImageName < l[j].ImageName })
	return l, nil
}

func (f *Fake) DeleteImage(ctx context.Context, name string) error {
	leave, err := f.enter(ctx, "DeleteImage", "")
	if err != nil {
		return err
	}
	defer leave()
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.images, name) // the original does not fail on a missing image
	return nil
}

func (f *Fake) ImageRootDiskSize(ctx context.Context, name string) (string, error) {
	leave, err := f.enter(ctx, "ImageRootDiskSize", "")
	if err != nil {
		return "", err
	}
	defer leave()
	f.mu.Lock()
	defer f.mu.Unlock()
	im, ok := f.images[name]
	if !ok {
		return "", api.ImageNotExist(name)
	}
	size, _, _ := strings.Cut(im.DiskSizeUnits, ":")
	return size, nil
}
