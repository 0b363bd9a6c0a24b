#!/bin/bash
# 96zguest-zfcp/module-setup.sh - dracut module (installed by zguest).
#
# What: adds rd.zfcp=ipldev support to the initramfs: FCP device, WWPN and
# LUN of the IPL device are read from /sys/firmware/ipl at boot. It pulls in
# dracut's zfcp module (95zfcp) and installs parse-zfcp.sh under the name of
# 95zfcp's cmdline hook (30-parse-zfcp.sh), replacing it; modules install in
# name order, so 95zfcp's copy is already there and is removed first
# (dracut's installer keeps an existing file).
#
# Why: DPM partitions boot from an FCP LUN only known at IPL time; zguest's
# image builder patched the image's initramfs, and this module keeps the
# support when the guest regenerates its initramfs (kernel updates).

# called by dracut
check() {
    return 0
}

# called by dracut
depends() {
    echo zfcp
    return 0
}

# called by dracut
install() {
    rm -f -- "${initdir}/lib/dracut/hooks/cmdline/30-parse-zfcp.sh" \
        "${initdir}/usr/lib/dracut/hooks/cmdline/30-parse-zfcp.sh" \
        "${initdir}/var/lib/dracut/hooks/cmdline/30-parse-zfcp.sh"
    inst_hook cmdline 30 "$moddir/parse-zfcp.sh"
}
