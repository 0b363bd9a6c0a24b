#!/usr/bin/env bash
# mkrootfs.sh OUT.tar — build a small Debian 12 (bookworm) s390x root file
# system with debootstrap under qemu-user and pack it as a tarball (numeric
# owners kept). Used by the image pipeline's and the KVM backend's
# end-to-end tests through internal/imagefixture, which caches the result.
# Needs root (debootstrap chroots), qemu-user-static and binfmt_misc.
set -euo pipefail
out=$1
suite=${SUITE:-bookworm}
# The packages a guest needs to boot with systemd, run the agent's units
# and let cloud-init apply a config drive; e2fsprogs and kmod come with
# minbase or the kernel.
include=${INCLUDE:-systemd-sysv,udev,cloud-init,linux-image-s390x,initramfs-tools,zstd,ifupdown,iproute2,kmod}

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
debootstrap --arch=s390x --variant=minbase --include="$include" "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -30 "$work/debootstrap.log" >&2; tail -30 "$root/debootstrap/debootstrap.log" >&2 || true; exit 1; }
# Trim what a cloud image does not need; the image builder does the
# per-instance clean-up itself (that is what it is tested for).
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/*
tmp=$out.tmp.$$
tar --numeric-owner --xattrs -C "$root" -cf "$tmp" .
mv "$tmp" "$out"
echo "mkrootfs: wrote $out ($(du -h "$out" | cut -f1))" >&2
