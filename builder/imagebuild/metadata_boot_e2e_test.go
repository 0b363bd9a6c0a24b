package imagebuild_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zguest/zguest/builder/configdrive"
	"github.com/zguest/zguest/builder/configdrive/metadatasrv"
	"github.com/zguest/zguest/internal/imagefixture"
	"github.com/zguest/zguest/internal/testutil"
)

// The guest's network in TestBootDPMMetadataService, laid out as
// Neutron's DHCP agent lays out an isolated network with metadata: the
// DHCP port holds the subnet's DHCP address and 169.254.169.254/32,
// dnsmasq hands out fixed addresses by MAC and pushes a host route to
// 169.254.169.254 through the DHCP port (option 121), and the router
// (here absent) is the default gateway. Traffic to the metadata address
// therefore only arrives if the guest used the host route it got over
// DHCP.
const (
	mdTap     = "zgmd0"
	mdDHCP    = "10.0.2.2"
	mdRouter  = "10.0.2.1"
	mdGuestIP = "10.0.2.15"
	mdAddr    = "169.254.169.254"
	mdMAC     = "0a:00:00:00:00:11"
	// A second NIC, on a network without DHCP: network_data.json gives it
	// a static address, matched by the MAC the token names.
	mdTap2   = "zgmd1"
	mdMAC2   = "0a:00:00:00:00:14"
	mdHost2  = "192.168.77.1"
	mdGuest2 = "192.168.77.5"
	mdTokens = "0001,0,0a0000000011;0004,1,0a0000000014;"
	mdKey    = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq0m3Jd6bM2xk5o0tC1y7QZc4e9VnUu3a8p2fL6wYgR md-e2e@zguest"
)

// TestBootDPMMetadataService boots an image made by `zguest-image build`
// for target dpm under qemu-system-s390x with no config drive at all, as
// a DPM partition has neither reader nor cdrom. Its two NICs have the
// device numbers and MACs of DPM-style tokens on the kernel command line
// (under QEMU they are virtio-net-ccw, which the agent reports as not
// qeth). The instance data comes from nova's metadata service at
// 169.254.169.254, reached with cloud-init's own DHCP on the first NIC;
// the second, on a network without DHCP, gets its static address from
// the metadata's network_data.json, matched by MAC.
//
// Why a private network namespace with a tap device and not QEMU's user
// networking: slirp refuses a guestfwd rule for an address outside its
// own network ("Conflicting/invalid host:port in guest forwarding rule"
// for tcp:169.254.169.254:80, QEMU 7.2), and moving the whole slirp
// network into 169.254.0.0/16 would give the guest a link-local lease no
// cloud hands out. In the namespace, dnsmasq (what Neutron's DHCP agent
// runs) answers DHCP and our metadata server (builder/configdrive/
// metadatasrv) listens on 169.254.169.254:80, serving the tree our config
// drive writer makes.
//
// Why target dpm: its images add rd.zfcp=ipldev support to the initramfs,
// which under QEMU finds the IPL device is CCW, not FCP, and steps aside,
// so the image under test is the one a DPM partition gets.
func TestBootDPMMetadataService(t *testing.T) {
	testutil.RequireRoot(t, "a private network namespace with a tap device for the guest")
	testutil.RequireTool(t, "qemu-system-s390x")
	testutil.RequireTool(t, "dnsmasq")
	testutil.RequireTool(t, "ip")
	img := imagefixture.BuildImage(t, "dpm", mdTokens)
	dir := t.TempDir()

	marker := doneMarker()
	script := `#!/bin/sh
exec >/dev/console 2>&1
home=$(getent passwd 1000 | cut -d: -f6)
echo "ZGUEST-FACT hostname=$(hostname)"
echo "ZGUEST-FACT enc1=$(ip -4 -o addr show dev enc1 | awk '{print $4}')"
echo "ZGUEST-FACT enc4=$(ip -4 -o addr show dev enc4 | awk '{print $4}')"
echo "ZGUEST-FACT activate=$(systemctl is-active zguest-activate.service)"
echo "ZGUEST-FACT activate_done=$(systemctl show -p ActiveEnterTimestampMonotonic --value zguest-activate.service)"
echo "ZGUEST-FACT cloud_init_local_start=$(systemctl show -p InactiveExitTimestampMonotonic --value cloud-init-local.service)"
echo "ZGUEST-FACT cloud_id=$(cat /run/cloud-init/cloud-id)"
echo "ZGUEST-FACT subplatform=$(grep -o '"subplatform": "[^"]*"' /run/cloud-init/instance-data.json | head -n1 | cut -d'"' -f4)"
echo "ZGUEST-FACT ssh_key=$(cat "$home/.ssh/authorized_keys" 2>/dev/null | grep -o 'md-e2e@zguest' | head -n1) user=${home##*/}"
echo "ZGUEST-FACT ds_identify=$(grep -h datasource_list /run/cloud-init/cloud.cfg 2>/dev/null)"
echo ` + marker + `
`
	inst := &configdrive.Instance{
		UUID:     "3b7d0c1e-2f4a-4c6b-8d9e-a1b2c3d4e5f6",
		Hostname: "zguest-md",
		Name:     "zguest-md",
		Keys:     []configdrive.Key{{Name: "md-e2e", Type: "ssh", Data: mdKey}},
		UserData: []byte(script),
		// What nova writes for a port on a subnet with DHCP enabled.
		Network: &configdrive.NetworkData{
			Links: []configdrive.Link{{ID: "tapa1b2c3d4-e5", Type: "phy", EthernetMACAddress: mdMAC},
				{ID: "tapf6e5d4c3-b2", Type: "phy", EthernetMACAddress: mdMAC2}},
			Networks: []configdrive.Network{{ID: "network0", Type: "ipv4_dhcp", Link: "tapa1b2c3d4-e5", NetworkID: "5c4b3a29-1807-4f6e-9d8c-7b6a5f4e3d2c"},
				{ID: "network1", Type: "ipv4", Link: "tapf6e5d4c3-b2", IPAddress: mdGuest2, Netmask: "255.255.255.0", NetworkID: "9e8d7c6b-5a49-4382-b1c0-d9e8f7a6b5c4"}},
		},
	}
	tree, err := configdrive.Build(inst)
	if err != nil {
		t.Fatal(err)
	}
	mdLog := &lockedBuffer{}
	srv, err := metadatasrv.New(tree, slog.New(slog.NewTextHandler(mdLog, nil)))
	if err != nil {
		t.Fatal(err)
	}

	args := []string{"-m", "1024", "-smp", "2",
		"-drive", "file=" + img + ",if=none,id=root,format=qcow2",
		"-device", "virtio-blk-ccw,drive=root,devno=fe.0.0010,bootindex=1",
		"-netdev", "tap,id=n0,ifname=" + mdTap + ",script=no,downscript=no",
		"-device", "virtio-net-ccw,netdev=n0,devno=fe.0.0001,mac=" + mdMAC,
		"-netdev", "tap,id=n1,ifname=" + mdTap2 + ",script=no,downscript=no",
		"-device", "virtio-net-ccw,netdev=n1,devno=fe.0.0004,mac=" + mdMAC2,
	}
	logFile := filepath.Join(dir, "console.log")
	dhcpLog := &lockedBuffer{}
	var con *imagefixture.Console
	var bootErr error
	start := time.Now()
	err = inNetNS(func() error {
		stop, err := metadataNetwork(srv, dhcpLog)
		if err != nil {
			return err
		}
		defer stop()
		// cloud-init's last line comes after the user data script's
		// marker; stopping there, not at the marker, ends a boot that
		// found no instance data (DataSourceNone) as quickly.
		con, bootErr = imagefixture.BootQEMU(t, args, logFile, 12*time.Minute, func(lines []imagefixture.Line) bool {
			return imagefixture.Index(lines, "Datasource DataSource") >= 0
		})
		return nil
	})
	if err != nil {
		t.Fatalf("guest network: %v\ndnsmasq:\n%s", err, dhcpLog.String())
	}
	if con == nil {
		t.Fatalf("boot: %v", bootErr)
	}
	lines := con.Lines()
	if bootErr != nil {
		t.Fatalf("boot: %v (console in %s); last lines:\n%s\ndnsmasq:\n%s\nmetadata requests:\n%s", bootErr, logFile,
			imagefixture.Tail(lines, 80), dhcpLog.String(), mdLog.String())
	}
	t.Logf("cloud-init finished after %s", time.Since(start).Round(time.Second))
	fact := func(name string) string { return guestFact(lines, name) }

	// The dpm image, booted through the firmware from its boot record,
	// with the DPM token and rd.zfcp=ipldev on its command line; the agent
	// ran first and said why it had nothing to do.
	checkBootAndAgent(t, lines, mdTokens)
	if i := imagefixture.Index(lines, "Kernel command line:"); i >= 0 && !strings.Contains(lines[i].Text, "rd.zfcp=ipldev") {
		t.Errorf("the dpm image's kernel command line lacks rd.zfcp=ipldev: %q", lines[i].Text)
	}
	// cloud-init found no config drive and took the metadata service.
	if i := imagefixture.Index(lines, "Datasource DataSource"); imagefixture.Index(lines, marker) < 0 {
		t.Errorf("the user data script never ran (no %s); cloud-init ended with %q", marker, lines[i].Text)
	}
	if imagefixture.Index(lines, "Datasource DataSourceOpenStack") < 0 {
		t.Errorf("cloud-init did not finish with the OpenStack datasource")
	}
	if got := fact("cloud_id"); got != "openstack" {
		t.Errorf("cloud-id = %q, want openstack", got)
	}
	if got := fact("subplatform"); got != "metadata (http://"+mdAddr+")" {
		t.Errorf("cloud-init's subplatform is %q, want the metadata service at %s", got, mdAddr)
	}
	if got := fact("ds_identify"); got != "datasource_list: [ OpenStack, None ]" {
		t.Errorf("ds-identify left %q for cloud-init, want datasource_list: [ OpenStack, None ]", got)
	}
	if got := fact("hostname"); got != "zguest-md" {
		t.Errorf("hostname = %q, want zguest-md from meta_data.json", got)
	}
	if got := fact("ssh_key"); !strings.HasPrefix(got, "md-e2e@zguest ") {
		t.Errorf("authorized_keys of the default user lack the metadata's key: %q", got)
	}
	if got := fact("enc1"); got != mdGuestIP+"/24" {
		t.Errorf("enc1 address = %q, want %s/24 by DHCP (network_data.json: ipv4_dhcp)", got, mdGuestIP)
	}
	if got := fact("enc4"); got != mdGuest2+"/24" {
		t.Errorf("enc4 address = %q, want %s/24 from network_data.json", got, mdGuest2)
	}
	// The metadata came from the guest's DHCP address, over the host route.
	var fromGuest []string
	for _, r := range srv.Requests() {
		if host, _, _ := net.SplitHostPort(r.Remote); host == mdGuestIP {
			fromGuest = append(fromGuest, r.Path)
		}
	}
	if !containsAll(fromGuest, "/openstack", "/openstack/2018-08-27/meta_data.json", "/openstack/2018-08-27/user_data", "/openstack/2018-08-27/network_data.json") {
		t.Errorf("the metadata server did not see cloud-init's crawl from %s: %q", mdGuestIP, fromGuest)
	}
	if !strings.Contains(dhcpLog.String(), "DHCPACK("+mdTap+") "+mdGuestIP+" "+mdMAC) {
		t.Errorf("dnsmasq did not hand %s to %s:\n%s", mdGuestIP, mdMAC, dhcpLog.String())
	}
	if strings.Contains(dhcpLog.String(), mdMAC2) {
		t.Errorf("the second NIC (%s) asked for DHCP; cloud-init should have used the first:\n%s", mdMAC2, dhcpLog.String())
	}
	if t.Failed() {
		t.Logf("console (%s), last lines:\n%s\ndnsmasq:\n%s", logFile, imagefixture.Tail(lines, 150), dhcpLog.String())
		return
	}
	t.Logf("console lines checked:\n%s", checkedLines(lines, "Using SCSI scheme", "Kernel command line", "zguest_zfcp_ipldev", "zguest-agent:",
		"zguest-activate", "running 'init-local'", "Datasource DataSource", "ZGUEST-FACT", marker))
	var acks []string
	for _, l := range strings.Split(dhcpLog.String(), "\n") {
		if strings.Contains(l, "DHCPACK") {
			acks = append(acks, l)
		}
	}
	t.Logf("dnsmasq:\n%s\nmetadata requests from the guest: %d, first %q", strings.Join(acks, "\n"), len(fromGuest), fromGuest[:min(len(fromGuest), 3)])
}

func containsAll(have []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}

// lockedBuffer collects output written from other goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// inNetNS runs fn on a goroutine whose thread is moved into a new network
// namespace; processes it starts (ip, dnsmasq, QEMU) and sockets it opens
// live there. The thread is never unlocked, so Go discards it afterwards
// and the namespace goes away with the last process and socket in it.
func inNetNS(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// metadataNetwork sets up, in the current network namespace, the tap
// devices QEMU attaches to, dnsmasq on the first, and srv on
// 169.254.169.254:80.
// stop ends dnsmasq and the server.
func metadataNetwork(srv http.Handler, dhcpLog *lockedBuffer) (stop func(), err error) {
	for _, c := range [][]string{
		{"link", "set", "lo", "up"},
		{"tuntap", "add", "dev", mdTap, "mode", "tap"},
		{"addr", "add", mdDHCP + "/24", "dev", mdTap},
		{"addr", "add", mdAddr + "/32", "dev", mdTap},
		{"link", "set", mdTap, "up"},
		{"tuntap", "add", "dev", mdTap2, "mode", "tap"},
		{"addr", "add", mdHost2 + "/24", "dev", mdTap2},
		{"link", "set", mdTap2, "up"},
	} {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ip %s: %v: %s", strings.Join(c, " "), err, out)
		}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(mdAddr, "80"))
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	// Neutron's DHCP agent's dnsmasq options for one port on a subnet
	// with isolated metadata (it writes the host and option lines to
	// files; dnsmasq reads those after dropping root, so they are given
	// on the command line here).
	routes := mdAddr + "/32," + mdDHCP + ",0.0.0.0/0," + mdRouter
	dnsmasq := exec.Command("dnsmasq", "--keep-in-foreground", "--log-facility=-", "--log-dhcp",
		"--no-hosts", "--no-resolv", "--port=0", "--pid-file=", "--conf-file=/dev/null",
		"--leasefile-ro", "--dhcp-authoritative", "--bind-interfaces", "--interface="+mdTap, "--except-interface=lo",
		"--dhcp-range=set:subnet0,10.0.2.0,static,255.255.255.0,86400s", "--dhcp-lease-max=256",
		"--dhcp-host="+mdMAC+",host-10-0-2-15.openstacklocal,"+mdGuestIP,
		"--dhcp-option=tag:subnet0,option:classless-static-route,"+routes,
		"--dhcp-option=tag:subnet0,249,"+routes,
		"--dhcp-option=tag:subnet0,option:router,"+mdRouter,
		"--domain=openstacklocal")
	dnsmasq.Stdout, dnsmasq.Stderr = dhcpLog, dhcpLog
	if err := dnsmasq.Start(); err != nil {
		hs.Close()
		return nil, fmt.Errorf("dnsmasq: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = dnsmasq.Wait(); close(exited) }()
	return func() {
		_ = dnsmasq.Process.Kill()
		<-exited
		_ = hs.Close()
	}, nil
}
