#!/bin/sh
# zguest_dasd - initramfs-tools local-top script (installed by zguest).
#
# What: for every device in rd.dasd= on the kernel command line (dracut's
# syntax: bus IDs like 0.0.0100, comma-separated, the argument repeatable),
# load the ECKD and FBA DASD drivers, free the device from cio_ignore and
# set it online, then let udev create its nodes, so that root=UUID= finds
# the file system on it.
#
# Why: a z/VM guest's root file system is on a minidisk (an ECKD DASD at
# the deploy vdev, 0100 by default) that Linux leaves offline unless told.
# dracut has rd.dasd (95dasd_mod); Debian's initramfs-tools has nothing.
# Under QEMU the root is a virtio disk and the bus ID may be taken by a
# virtio device that is online already: then there is nothing to do. This
# never fails the boot: on problems it logs and exits 0.
#
# ZGUEST_SYSROOT (default empty) prefixes /proc and /sys, and
# ZGUEST_DASD_WAIT (default 30) is how many seconds to wait for a device;
# both exist for tests.

PREREQ=""
prereqs() { echo "$PREREQ"; }
case "$1" in
prereqs)
	prereqs
	exit 0
	;;
esac

R="${ZGUEST_SYSROOT:-}"
wait_s="${ZGUEST_DASD_WAIT:-30}"

log() {
	echo "zguest_dasd: $*" >&2
}

cmdline=$(cat "$R/proc/cmdline" 2>/dev/null)
devs=""
for arg in $cmdline; do
	case "$arg" in
	rd.dasd=*)
		# Split at commas with the shell alone: an initramfs may have
		# klibc's tools only (no tr, sed or awk).
		old_ifs=$IFS
		IFS=,
		for d in ${arg#rd.dasd=}; do
			devs="$devs $d"
		done
		IFS=$old_ifs
		;;
	esac
done
[ -n "$devs" ] || exit 0

modprobe -q dasd_eckd_mod || log "modprobe dasd_eckd_mod failed"
modprobe -q dasd_fba_mod || true

for dev in $devs; do
	case "$dev" in
	[0-3].[0-3].[0-9a-f][0-9a-f][0-9a-f][0-9a-f]) ;;
	*)
		log "rd.dasd=$dev: not a bus ID like 0.0.0100 (ranges and options are dracut's); ignored"
		continue
		;;
	esac
	if command -v cio_ignore >/dev/null 2>&1; then
		cio_ignore -r "$dev" >/dev/null 2>&1
	elif [ -e "$R/proc/cio_ignore" ]; then
		echo "free $dev" >"$R/proc/cio_ignore" 2>/dev/null
	fi
	d="$R/sys/bus/ccw/devices/$dev"
	i=0
	while [ ! -e "$d/online" ] && [ "$i" -lt "$wait_s" ]; do
		sleep 1
		i=$((i + 1))
	done
	if [ ! -e "$d/online" ]; then
		log "$dev: no such CCW device"
		continue
	fi
	drv=$(readlink "$d/driver" 2>/dev/null)
	drv=${drv##*/}
	if [ "$(cat "$d/online" 2>/dev/null)" = "1" ]; then
		log "$dev is online (driver ${drv:-none})"
		continue
	fi
	if echo 1 >"$d/online"; then
		log "$dev set online (driver ${drv:-none})"
	else
		log "setting $dev online failed"
	fi
done
if command -v udevadm >/dev/null 2>&1; then
	udevadm settle --timeout="$wait_s"
fi
exit 0
