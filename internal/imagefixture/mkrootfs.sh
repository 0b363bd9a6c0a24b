#!/usr/bin/env bash
# mkrootfs.sh OUT.tar — build a small Debian 12 (bookworm) s390x root file
# system with debootstrap under qemu-user and pack it as a tarball (numeric
# owners kept). Used by the image pipeline's and the KVM backend's
# end-to-end tests through internal/imagefixture, which caches the result.
# Needs root (debootstrap chroots), qemu-user-static and binfmt_misc.
set -euo pipefail
out=$1
suite=${SUITE:-bookworm}
# The packages a guest needs to boot with systemd and run the agent's
# units; e2fsprogs comes with minbase. cloud-init is installed afterwards
# with apt: debootstrap's resolver does not follow virtual packages
# (python3-cryptography needs python3-cffi-backend-api-min). s390-tools
# brings the guest's own zipl and fdasd (z/VM DASD images are made with
# them); isc-dhcp-client is what cloud-init's ephemeral DHCP runs for the
# metadata-service datasource.
include=${INCLUDE:-systemd-sysv,udev,linux-image-s390x,initramfs-tools,zstd,ifupdown,iproute2,kmod}
extra=${EXTRA:-cloud-init s390-tools isc-dhcp-client}

mirror=${MIRROR:-}
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list.d/debian.sources ]; then
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
fi
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list)
fi
mirror=${mirror:-http://deb.debian.org/debian}

if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-s390x ]; then
  update-binfmts --enable qemu-s390x
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/zguest-rootfs.XXXXXX")
cleanup() {
  for m in proc sys dev; do umount -l "$work/root/$m" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
root=$work/root
echo "mkrootfs: debootstrap $suite s390x from $mirror" >&2
fail() { tail -30 "$work/debootstrap.log" >&2; tail -30 "$root/debootstrap/debootstrap.log" >&2 || true; exit 1; }
debootstrap --foreign --arch=s390x --variant=minbase --include="$include" "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || fail
# Before the second stage installs the kernel: an initramfs with the few
# modules these guests boot from, instead of MODULES=most. Generating the
# full one twice (kernel postinst, then the trigger) under qemu-user takes
# about ten minutes of the fixture's time; this one well under one.
# (conf.d and hooks hold no conffiles of initramfs-tools: dpkg does not ask.)
mkdir -p "$root/etc/initramfs-tools/conf.d" "$root/etc/initramfs-tools/hooks"
echo 'MODULES=list' > "$root/etc/initramfs-tools/conf.d/zguest-fixture.conf"
cat > "$root/etc/initramfs-tools/hooks/zguest-fixture" <<'HOOK'
#!/bin/sh
# Root on virtio-blk (KVM), SCSI/FCP (DPM) or DASD (z/VM), ext4; udev in
# the initramfs loads them by modalias, mount loads ext4.
case $1 in prereqs) exit 0;; esac
. /usr/share/initramfs-tools/hook-functions
for m in virtio_blk virtio_scsi sd_mod zfcp dasd_fba_mod dasd_eckd_mod ext4; do manual_add_modules $m; done
HOOK
chmod 755 "$root/etc/initramfs-tools/hooks/zguest-fixture"
chroot "$root" /debootstrap/debootstrap --second-stage >>"$work/debootstrap.log" 2>&1 || fail
echo "mkrootfs: apt-get install $extra" >&2
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
mount -t proc proc "$root/proc"
chroot "$root" apt-get update -qq >>"$work/debootstrap.log" 2>&1 || fail
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $extra >>"$work/debootstrap.log" 2>&1 || fail
umount "$root/proc"
rm -f "$root/usr/sbin/policy-rc.d"
# The build host's resolver must not travel in the image.
: > "$root/etc/resolv.conf"
# Trim what a cloud image does not need; the image builder does the
# per-instance clean-up itself (that is what it is tested for).
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/*
tmp=$out.tmp.$$
tar --numeric-owner --xattrs -C "$root" -cf "$tmp" .
mv "$tmp" "$out"
echo "mkrootfs: wrote $out ($(du -h "$out" | cut -f1))" >&2
