#!/bin/sh
# parse-zfcp.sh - dracut cmdline hook for zfcp with rd.zfcp=ipldev
# (installed by zguest).
#
# What: the hook of dracut's zfcp module (95zfcp), extended as the nova-dpm
# image guide describes: an rd.zfcp=ipldev argument stands for the FCP
# device the system was IPLed from, "<device>,<wwpn>,<lun>" read from
# /sys/firmware/ipl, when /sys/firmware/ipl/ipl_type is "fcp". Otherwise it
# behaves as upstream: honour rd.zfcp.conf=0, append each rd.zfcp= entry to
# /etc/zfcp.conf (one device, WWPN and LUN per line), and free the devices
# from cio_ignore with zfcp_cio_free; 95zfcp's udev rule then runs
# zfcpconf.sh.
#
# Why: a DPM partition boots from an FCP LUN only known at IPL time, and
# upstream 95zfcp has no "ipldev". zguest installs this file under the name
# of 95zfcp's hook (cmdline/30-parse-zfcp.sh) so that it replaces it.
#
# dracut sources this file; ZGUEST_SYSROOT (default empty) prefixes /etc
# and /sys for tests.

_zg_root="${ZGUEST_SYSROOT:-}"

getargbool 1 rd.zfcp.conf || rm -f -- "$_zg_root/etc/zfcp.conf"

for zfcp_arg in $(getargs rd.zfcp); do
    if [ "$zfcp_arg" = "ipldev" ]; then
        if [ "$(cat "$_zg_root/sys/firmware/ipl/ipl_type" 2>/dev/null)" != "fcp" ]; then
            warn "rd.zfcp=ipldev: the system was not IPLed from an FCP device; ignored"
            continue
        fi
        zfcp_arg="$(cat "$_zg_root/sys/firmware/ipl/device"),$(cat "$_zg_root/sys/firmware/ipl/wwpn"),$(cat "$_zg_root/sys/firmware/ipl/lun")"
    fi
    # Upstream's format check: <bus id>,<wwpn>,<lun>, or a bus id alone
    # (NPIV with automatic LUN scan).
    if ! echo "$zfcp_arg" | grep -q -x -e '[0-9a-fA-F]\.[0-9a-fA-F]\.[0-9a-fA-F]\{4\}' \
        -e '[0-9a-fA-F]\.[0-9a-fA-F]\.[0-9a-fA-F]\{4\},0x[0-9a-fA-F]\{16\},0x[0-9a-fA-F]\{16\}'; then
        warn "rd.zfcp=$zfcp_arg: invalid format, expected <bus id>[,<wwpn>,<lun>]; ignored"
        continue
    fi
    (
        IFS=","
        # shellcheck disable=SC2086
        set -- $zfcp_arg
        echo "$@" >> "$_zg_root/etc/zfcp.conf"
    )
done
unset zfcp_arg _zg_root

zfcp_cio_free
