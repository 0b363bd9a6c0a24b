#!/bin/sh
# zguest_zfcp_ipldev - initramfs-tools local-top script (installed by zguest).
#
# What: when the kernel command line has rd.zfcp=ipldev and the system was
# IPLed from an FCP device (/sys/firmware/ipl/ipl_type is "fcp"), bring the
# IPL FCP device and LUN online, reading device, WWPN and LUN from
# /sys/firmware/ipl: load zfcp, free the device from cio_ignore, set it
# online, and, unless the LUN shows up by itself (NPIV with the default
# zfcp.allow_lun_scan=1), add it through the port's unit_add.
#
# Why: in a DPM partition the guest boots from an FCP LUN that is only known
# at IPL time, so it cannot be written into the image. Dracut-based images
# get the same from a patched 95zfcp hook; initramfs-tools has no rd.zfcp
# handling at all. This runs in local-top, before the root device is
# waited for. It never fails the boot: on problems it logs and exits 0.
#
# ZGUEST_SYSROOT (default empty) prefixes /proc and /sys, and
# ZGUEST_ZFCP_WAIT (default 30) is how many seconds to wait for devices;
# both exist for tests.
#
# guess: the sysfs sequence (online, port_rescan, unit_add, the fc_host
# port_type NPIV check) follows the kernel's zfcp documentation; it is
# tested against an emulated sysfs only, never a real FCP adapter.

PREREQ=""
prereqs() { echo "$PREREQ"; }
case "$1" in
prereqs)
	prereqs
	exit 0
	;;
esac

R="${ZGUEST_SYSROOT:-}"
wait_s="${ZGUEST_ZFCP_WAIT:-30}"

log() {
	echo "zguest_zfcp_ipldev: $*" >&2
}

read_attr() {
	cat "$1" 2>/dev/null
}

cmdline=$(read_attr "$R/proc/cmdline")
case " $cmdline " in
*" rd.zfcp=ipldev "*) ;;
*) exit 0 ;;
esac

ipl_type=$(read_attr "$R/sys/firmware/ipl/ipl_type")
if [ "$ipl_type" != "fcp" ]; then
	log "rd.zfcp=ipldev: IPL type is '${ipl_type:-unknown}', not fcp; nothing to do"
	exit 0
fi
dev=$(read_attr "$R/sys/firmware/ipl/device")
wwpn=$(read_attr "$R/sys/firmware/ipl/wwpn")
lun=$(read_attr "$R/sys/firmware/ipl/lun")
case "$dev" in
[0-3].[0-3].[0-9a-f][0-9a-f][0-9a-f][0-9a-f]) ;;
*)
	log "rd.zfcp=ipldev: bad IPL device '$dev' in /sys/firmware/ipl/device"
	exit 0
	;;
esac
hex16='[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]'
# shellcheck disable=SC2254
case "$wwpn" in
0x$hex16) ;;
*)
	log "rd.zfcp=ipldev: bad WWPN '$wwpn' in /sys/firmware/ipl/wwpn"
	exit 0
	;;
esac
# shellcheck disable=SC2254
case "$lun" in
0x$hex16) ;;
*)
	log "rd.zfcp=ipldev: bad LUN '$lun' in /sys/firmware/ipl/lun"
	exit 0
	;;
esac
log "bringing FCP IPL device $dev WWPN $wwpn LUN $lun online"

settle() {
	if command -v udevadm >/dev/null 2>&1; then
		udevadm settle --timeout="$wait_s"
	fi
}

# wait_for <test args...>: poll for up to $wait_s seconds.
wait_for() {
	i=0
	while ! test "$@"; do
		[ "$i" -ge "$wait_s" ] && return 1
		sleep 1
		i=$((i + 1))
	done
	return 0
}

modprobe -q zfcp || log "modprobe zfcp failed"

if command -v cio_ignore >/dev/null 2>&1; then
	cio_ignore -r "$dev" || log "cio_ignore -r $dev failed"
elif [ -e "$R/proc/cio_ignore" ]; then
	echo "free $dev" >"$R/proc/cio_ignore" || log "freeing $dev in /proc/cio_ignore failed"
fi

adapter="$R/sys/bus/ccw/drivers/zfcp/$dev"
settle
if ! wait_for -d "$adapter"; then
	log "FCP device $dev did not appear under /sys/bus/ccw/drivers/zfcp"
	exit 0
fi
if [ "$(read_attr "$adapter/online")" != "1" ]; then
	echo 1 >"$adapter/online" || log "setting $dev online failed"
fi
settle

# lun_present: a SCSI device for $dev/$wwpn/$lun exists (zfcp's sdev
# attributes hba_id, wwpn and fcp_lun).
lun_present() {
	for d in "$R"/sys/bus/scsi/devices/*; do
		[ -e "$d/fcp_lun" ] || continue
		[ "$(read_attr "$d/hba_id")" = "$dev" ] &&
			[ "$(read_attr "$d/wwpn")" = "$wwpn" ] &&
			[ "$(read_attr "$d/fcp_lun")" = "$lun" ] && return 0
	done
	return 1
}

# Automatic LUN scan happens only with allow_lun_scan and an NPIV adapter
# (fc_host port_type "NPIV VPORT"); otherwise the LUN must be added.
auto=0
case "$(read_attr "$R/sys/module/zfcp/parameters/allow_lun_scan")" in
N | n | 0) ;;
*)
	for pt in "$adapter"/host*/fc_host/host*/port_type; do
		case "$(read_attr "$pt")" in
		*NPIV*) auto=1 ;;
		esac
	done
	;;
esac
if [ "$auto" = 1 ]; then
	i=0
	while ! lun_present && [ "$i" -lt "$wait_s" ]; do
		sleep 1
		i=$((i + 1))
	done
fi
if lun_present; then
	exit 0
fi

port="$adapter/$wwpn"
if ! wait_for -d "$port"; then
	echo 1 >"$adapter/port_rescan" 2>/dev/null
	if ! wait_for -d "$port"; then
		log "target port $wwpn did not appear on $dev"
		exit 0
	fi
fi
if [ ! -d "$port/$lun" ]; then
	echo "$lun" >"$port/unit_add" || log "adding LUN $lun on $dev/$wwpn failed"
fi
settle
exit 0
