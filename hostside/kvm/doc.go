// Package kvm is the KVM-on-s390x backend of the REST layer
// (api.Backend): each guest is a libvirt domain of machine type
// s390-ccw-virtio, created and run the way nova's libvirt driver does on
// IBM Z (virtio-ccw devices, SCLP consoles, the config drive as a cdrom
// on virtio-scsi), from images made by zguest-image.
//
// # libvirt client
//
// libvirt is reached through github.com/digitalocean/go-libvirt, a pure
// Go implementation of libvirt's RPC protocol over the local socket.
// zguest-hostd is built with CGO_ENABLED=0, statically, and
// cross-compiled for linux/s390x (make build-s390x); the cgo bindings
// (libvirt.org/go/libvirt) would need libvirt-dev and a cross C
// toolchain, and are empty without cgo. The calls used are the
// consumer-declared Conn interface; kvmtest.Fake implements it in
// memory. The connection is dialled again when it is lost (libvirtd
// restarted).
//
// # Names and storage
//
// The REST API's userid (1-8 upper-case alphanumerics) names the domain
// "<prefix><USERID>" (prefix "zguest-" by default). Everything zguest
// knows about a guest is kept in the domain's <metadata> as a
// <zguest:guest> element (namespace MetaNS): vCPUs, memory, disks, the
// deployed image, NICs with their device numbers, MACs and nova port
// ids. Each change re-renders the whole domain XML from these typed
// structures and redefines the domain (same UUID), so a restarted daemon
// knows its guests from libvirt alone. Storage lives under the
// configured directory:
//
//	images/<name>/disk.qcow2|disk.raw, image.json   imported images
//	guests/<USERID>/root.qcow2                       root disk (devno 0100)
//	guests/<USERID>/disk-<devno>.qcow2               data disks (0101-0118)
//	guests/<USERID>/configdrive.iso                  config drive
//	guests/<USERID>/console.log, sclplm.log          console logs
//
// (the logs go to console_log_dir/<domain>.console.log and .sclplm.log
// when that is configured). At start the backend logs the guests it
// adopts and removes guest directories no domain refers to, which an
// interrupted create or delete leaves.
//
// # Disks
//
// Deploy makes the root disk from an imported image: by default a qcow2
// overlay whose backing file is the image (qemu-img create -f qcow2 -b
// <image> -F <format>), grown to the boot disk size of the create call;
// with disk mode "copy" a full qcow2 copy (qemu-img convert, then
// resize). qemu-img is run as an argv (qemu-utils is on every KVM host):
// zguest's own qcow2 writer (builder/qcow2) converts raw images in one
// pass and has no backing-file support, which an overlay is all about.
// An image that overlays use cannot be deleted. Images are imported from
// file:// URLs: qcow2 without a backing file (checked with builder/qcow2)
// or raw.
//
// # Config drive
//
// Deploy's transportfiles is a config drive image (ISO 9660 or FAT,
// checked by signature) that is copied next to the disks. Without it,
// the backend builds one with builder/configdrive: the domain UUID as
// instance id, the requested hostname (default: the userid in lower
// case) and one DHCP network per NIC, matched by MAC. It is attached
// read-only as a cdrom on a virtio-scsi controller (devno 0002; what
// nova does on s390x) or, with drive bus "virtio", as a virtio disk
// (devno 0003).
//
// # Devices
//
// Every device is virtio-ccw in channel subsystem fe: root disk 0100
// (boot order 1), data disks from 0101, NICs at the device numbers nova
// sends as nic_vdev (z/VM vdevs: "1000", "0.0.1000"; 0200-ffff, the
// rest is reserved for disks), so the guest names the NIC enc1000. A NIC
// without a vdev gets the next free one from 1000 in steps of three, as
// z/VM assigns them. The interface type is configured: user (qemu's
// NAT, for tests), network, bridge or direct (macvtap); couple's vswitch
// names the network, bridge or device of one NIC, and an uncoupled NIC
// has its link down.
//
// The guest has two consoles: the interactive sclp console (a pty, with
// a <log> file: the kernel, systemd and cloud-init write here through
// /dev/console) and the sclplm line-mode console written to a file.
// ConsoleOutput returns the sclp log followed by the sclplm file.
//
// The CPU is host-model when libvirt supports it (KVM); otherwise
// (emulation) the configured model if libvirt lists it usable, else max.
// The domain type is kvm when libvirt offers KVM for s390x, qemu (TCG)
// otherwise, unless configured.
//
// # Power
//
// "on" is running, paused or shutting down. start defines nothing: it
// starts the domain (resumes a paused one); a guest without a root disk
// cannot start. stop destroys the domain at once, or with a timeout
// first asks the guest to shut down; softstop always asks first, waiting
// up to the request's timeout (default: the configured stop timeout)
// while polling the state, then destroys. reboot asks the guest; reset
// resets the machine; pause and unpause suspend and resume. Delete
// destroys and undefines the domain and removes the guest's directory
// and console logs; a guest already gone is not an error.
//
// # Errors
//
// libvirt errors become *api.Error with libvirt's error number in rs
// and its message (with the number's name) in msg: overallRC 404 for no
// such domain, 409 for an invalid operation or an existing domain, 503
// when libvirtd is unreachable (also rc 503, rs 0), 300 otherwise.
// Validation errors are overallRC 100; limits (vcpus, memory) 409 rs 1
// and 2.
package kvm
