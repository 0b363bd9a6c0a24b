#!/bin/sh
# zguest_zfcp - initramfs-tools hook (installed by zguest).
#
# What: puts the zfcp kernel module (and cio_ignore, if installed) into the
# initramfs. Why: the local-top script zguest_zfcp_ipldev, which brings the
# FCP IPL device online for rd.zfcp=ipldev (DPM partitions boot from an FCP
# LUN), needs them; with MODULES=dep on a build host without FCP the driver
# would be left out.

PREREQ=""
prereqs() { echo "$PREREQ"; }
case "$1" in
prereqs)
	prereqs
	exit 0
	;;
esac

. /usr/share/initramfs-tools/hook-functions

manual_add_modules zfcp
if [ -x /sbin/cio_ignore ]; then
	copy_exec /sbin/cio_ignore /sbin
fi
exit 0
