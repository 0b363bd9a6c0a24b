package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/zguest/zguest/internal/imagefixture"
)

// convDASD is the conventional way to make the same CDL DASD image, as
// KIWI does it: unpack the tree, a sparse disk on a loop device with 4 KiB
// sectors, the image's fdasd for the VTOC, mkfs.ext4 -d on the partition's
// loop device, mount it, the image's zipl in a chroot. It writes no IPL1/
// IPL2 records (the firmware needs them; zguest-image writes them, which
// costs nothing measurable) and installs no agent.
const convDASD = `set -eu
rootfs=$1 dir=$2 cyl=$3
tree=$dir/tree img=$dir/conv-zvm.raw mnt=$dir/mnt
mkdir -p "$tree" "$mnt"
tar --numeric-owner --xattrs -xpf "$rootfs" -C "$tree"
truncate -s $((cyl * 737280)) "$img"
disk=$(losetup -f --show -b 4096 "$img")
mount -t proc proc "$tree/proc"; mount -t sysfs sys "$tree/sys"; mount -t tmpfs tmpfs "$tree/dev"
cp -a "$disk" "$tree/dev/dasd"
chroot "$tree" fdasd --force=3390,4096 -a -l LNX001 /dev/dasd >/dev/null 2>&1 || true
umount "$tree/dev" "$tree/sys" "$tree/proc"
part=$(losetup -f --show -b 4096 -o $((24 * 4096)) --sizelimit $(( (cyl * 180 - 24) * 4096 )) "$img")
mkfs.ext4 -q -F -L root -d "$tree" "$part"
mount "$part" "$mnt"
mount -t proc proc "$mnt/proc"; mount -t sysfs sys "$mnt/sys"; mount -t tmpfs tmpfs "$mnt/dev"
cp -a "$disk" "$mnt/dev/dasd"
chroot "$mnt" zipl --target /boot --image /boot/vmlinuz-6.1.0-50-s390x --ramdisk /boot/initrd.img-6.1.0-50-s390x \
  --parameters "root=LABEL=root" --targetbase /dev/dasd --targettype CDL --targetgeometry $cyl,15,12 \
  --targetblocksize 4096 --targetoffset 24 >/dev/null
umount "$mnt/dev" "$mnt/sys" "$mnt/proc" "$mnt"
losetup -d "$part" "$disk"
rm -rf "$tree"
`

// benchZVM times `zguest-image build` of a 2913-cylinder CDL DASD (raw)
// against convDASD, and the xCAT CKD output (CiKaDa tracks, gzip 6)
// against gzip -6 of the raw image (what creatediskimage does after
// ckdencode).
func benchZVM(tool, agent, rootfs, dir string, runs int) {
	const cyls = 2913
	spec := filepath.Join(dir, "zvm.yaml")
	check(os.WriteFile(spec, []byte(imagefixture.Spec(rootfs, agent, "zvm", "", "")), 0o644))
	b, err := os.ReadFile(spec)
	check(err)
	check(os.WriteFile(spec, []byte(replaceOnce(string(b), "size: 2GiB\nformat: qcow2\n", fmt.Sprintf("size: %dcyl\nformat: raw\n", cyls))), 0o644))
	xspec := filepath.Join(dir, "zvm-xcat.yaml")
	check(os.WriteFile(xspec, []byte(replaceOnce(string(b), "size: 2GiB\nformat: qcow2\n", fmt.Sprintf("size: %dcyl\nformat: xcat\n", cyls))), 0o644))
	script := filepath.Join(dir, "conv-dasd.sh")
	check(os.WriteFile(script, []byte(convDASD), 0o755))
	var ours, conv, xcat, gz []time.Duration
	var ourPeak int64
	for range runs {
		out := filepath.Join(dir, "ours-zvm.raw")
		syscall.Sync()
		d, peak := run(exec.Command(tool, "build", spec, "-o", out), "SOURCE_DATE_EPOCH=1700000000")
		ours, ourPeak = append(ours, d), max(ourPeak, peak)

		syscall.Sync()
		d, _ = run(exec.Command("bash", script, rootfs, dir, fmt.Sprint(cyls)))
		conv = append(conv, d)
		os.Remove(filepath.Join(dir, "conv-zvm.raw"))

		syscall.Sync()
		d, _ = run(exec.Command(tool, "build", xspec, "-o", filepath.Join(dir, "ours.xcat")), "SOURCE_DATE_EPOCH=1700000000")
		xcat = append(xcat, d-ours[len(ours)-1]) // the output step alone
		gzOut, err := os.Create(filepath.Join(dir, "raw.gz"))
		check(err)
		c := exec.Command("gzip", "-6", "-c", out)
		c.Stdout = gzOut
		d, _ = run(c)
		gzOut.Close()
		gz = append(gz, d)
		os.Remove(out)
	}
	mo, mc := median(ours), median(conv)
	fmt.Printf("zvm: zguest-image build, 3390 CDL DASD of %d cylinders (raw):          median %6.2fs  peak RSS %5.1f MiB\n", cyls, mo.Seconds(), float64(ourPeak)/1024)
	fmt.Printf("zvm: tar -x + losetup + fdasd + mkfs.ext4 -d + mount + zipl (KIWI's way): median %6.2fs  ratio %.2f (runs: ours %v, conventional %v)\n",
		mc.Seconds(), mo.Seconds()/mc.Seconds(), round(ours), round(conv))
	mx, mg := median(xcat), median(gz)
	fmt.Printf("zvm: xCAT CKD output (CiKaDa tracks, gzip 6), build minus raw build:      median %6.2fs  %d MiB\n", mx.Seconds(), size(filepath.Join(dir, "ours.xcat"))>>20)
	fmt.Printf("zvm: gzip -6 of the raw image (creatediskimage without ckdencode):       median %6.2fs  %d MiB  ratio %.2f\n",
		mg.Seconds(), size(filepath.Join(dir, "raw.gz"))>>20, mx.Seconds()/mg.Seconds())
}

func replaceOnce(s, old, new string) string {
	if !strings.Contains(s, old) {
		check(fmt.Errorf("spec has no %q", old))
	}
	return strings.Replace(s, old, new, 1)
}
