#!/bin/sh
# zguest_dasd - initramfs-tools hook (installed by zguest).
#
# What: puts the DASD drivers (dasd_eckd_mod, dasd_fba_mod) and cio_ignore,
# if installed, into the initramfs. Why: the local-top script zguest_dasd
# brings the root minidisk named by rd.dasd= online; with MODULES=dep on a
# build host without DASDs the drivers would be left out.

PREREQ=""
prereqs() { echo "$PREREQ"; }
case "$1" in
prereqs)
	prereqs
	exit 0
	;;
esac

. /usr/share/initramfs-tools/hook-functions

manual_add_modules dasd_eckd_mod dasd_fba_mod
if [ -x /sbin/cio_ignore ]; then
	copy_exec /sbin/cio_ignore /sbin
fi
exit 0
