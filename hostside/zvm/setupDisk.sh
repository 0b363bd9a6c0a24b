#!/bin/sh
# setupDisk: prepare an additional minidisk in a Linux guest on z/VM.
# Punched by zguest-hostd inside aemod.doscript and run by invokeScript.sh
# with the original connector's parameters:
#
#   setupDisk action=addMdisk vaddr=<vdev> filesys=<ext2|ext3|ext4|xfs|swap|none> mntdir=<dir>
#
# It brings the minidisk online (sysfs), low-level formats and partitions
# an ECKD disk that has no partition yet, makes the file system (or swap)
# unless the disk already holds one, adds an /etc/fstab entry with nofail
# and mounts it (or runs swapon). filesys=none only brings the disk
# online. Every path is below $ZGUEST_ROOT when it is set (the agent's
# emulated root); the mount directory must be absolute, without "." or
# ".." components and made of A-Z a-z 0-9 . _ / + - only, and may not be
# a system directory. Nothing is changed before every parameter is checked.
set -u

die() {
	echo "setupDisk: error: $*" >&2
	exit 1
}
log() { echo "setupDisk: $*"; }

root=${ZGUEST_ROOT:-}
root=${root%/}

action='' vaddr='' filesys='' mntdir=''
for arg in "$@"; do
	case $arg in
	action=*) action=${arg#action=} ;;
	vaddr=*) vaddr=${arg#vaddr=} ;;
	filesys=*) filesys=${arg#filesys=} ;;
	mntdir=*) mntdir=${arg#mntdir=} ;;
	*) die "unknown parameter '$arg'" ;;
	esac
done

[ "$action" = addMdisk ] || die "action '$action' is not supported (only addMdisk)"
case $vaddr in
'' | *[!0-9A-Fa-f]*) die "vaddr '$vaddr' is not 1 to 4 hex digits" ;;
esac
[ ${#vaddr} -le 4 ] || die "vaddr '$vaddr' is not 1 to 4 hex digits"
vaddr=$(printf '%04x' "0x$vaddr") || die "vaddr '$vaddr' is not 1 to 4 hex digits"
busid=0.0.$vaddr

case $filesys in
ext2 | ext3 | ext4 | xfs | swap | none) ;;
*) die "filesys '$filesys' is not one of ext2 ext3 ext4 xfs swap none" ;;
esac

if [ "$filesys" = swap ] || [ "$filesys" = none ]; then
	mntdir=''
else
	case $mntdir in
	/*) ;;
	*) die "mntdir '$mntdir' is not an absolute path" ;;
	esac
	case $mntdir in
	*[!A-Za-z0-9._/+-]*) die "mntdir '$mntdir' has characters other than A-Z a-z 0-9 . _ / + -" ;;
	esac
	case $mntdir/ in
	*/./* | */../* | *//*) die "mntdir '$mntdir' has an empty, '.' or '..' component" ;;
	esac
	mntdir=${mntdir%/}
	case $mntdir in
	'' | /bin | /boot | /dev | /etc | /home | /lib | /lib64 | /opt | /proc | /root | /run | /sbin | /srv | /sys | /tmp | /usr | /var | /mnt | /media)
		die "mntdir '$mntdir' is a system directory" ;;
	/proc/* | /sys/* | /dev/* | /run/* | /boot/* | /etc/* | /usr/* | /bin/* | /sbin/* | /lib/* | /lib64/*)
		die "mntdir '$mntdir' is below a system directory" ;;
	esac
fi

sysdev=$root/sys/bus/ccw/devices/$busid
[ -d "$sysdev" ] || die "no device $busid: is minidisk $vaddr defined in the directory (and the guest logged on again)?"

# Online.
if [ "$(cat "$sysdev/online" 2>/dev/null)" != 1 ]; then
	log "setting $busid online"
	echo 1 >"$sysdev/online" || die "cannot set $busid online"
fi
if [ -z "$root" ] && command -v chzdev >/dev/null 2>&1; then
	chzdev -e -p "$busid" >/dev/null 2>&1 || log "warning: chzdev could not make $busid persistent"
fi

blk=''
i=0
while [ $i -lt 30 ]; do
	for b in "$sysdev"/block/*; do
		[ -e "$b" ] && blk=${b##*/} && break
	done
	[ -n "$blk" ] && break
	i=$((i + 1))
	sleep 1
done
[ -n "$blk" ] || die "$busid is online but has no block device"
dev=$root/dev/$blk
log "$busid is $dev"
[ "$filesys" = none ] && exit 0

devtype=$(cat "$sysdev/devtype" 2>/dev/null || true)
case $devtype in
3390* | 3380*)
	part=${dev}1
	spec=/dev/disk/by-path/ccw-$busid-part1
	if [ ! -e "$part" ]; then
		log "low-level formatting and partitioning ECKD $dev"
		dasdfmt -y -b 4096 -d cdl -f "$dev" || die "dasdfmt $dev failed"
		fdasd -a "$dev" || die "fdasd -a $dev failed"
		i=0
		while [ ! -e "$part" ] && [ $i -lt 10 ]; do
			i=$((i + 1))
			sleep 1
		done
		[ -e "$part" ] || die "partition $part did not appear"
	fi
	;;
*)
	part=$dev
	spec=/dev/disk/by-path/ccw-$busid
	;;
esac

have=$(blkid -o value -s TYPE "$part" 2>/dev/null || true)
fstype=$filesys
if [ -n "$have" ]; then
	log "$part already holds $have; not formatted"
	fstype=$have
else
	case $filesys in
	swap) mkswap "$part" || die "mkswap $part failed" ;;
	xfs) mkfs.xfs -f "$part" || die "mkfs.xfs $part failed" ;;
	*) "mkfs.$filesys" -F "$part" || die "mkfs.$filesys $part failed" ;;
	esac
fi

fstab=$root/etc/fstab
[ -d "$root/etc" ] || die "no $root/etc"
touch "$fstab" || die "cannot write $fstab"
if [ "$fstype" = swap ]; then
	if ! awk -v s="$spec" '$1 == s { f = 1 } END { exit !f }' "$fstab"; then
		printf '%s none swap defaults,nofail 0 0\n' "$spec" >>"$fstab" || die "cannot write $fstab"
	fi
	swapon "$part" 2>/dev/null || log "warning: swapon $part failed (already active?)"
	log "$busid is swap"
	exit 0
fi

if ! awk -v s="$spec" -v m="$mntdir" '$1 == s || $2 == m { f = 1 } END { exit !f }' "$fstab"; then
	printf '%s %s %s defaults,nofail 0 2\n' "$spec" "$mntdir" "$fstype" >>"$fstab" || die "cannot write $fstab"
fi
mkdir -p "$root$mntdir" || die "cannot create $mntdir"
if awk -v m="$root$mntdir" '$2 == m { f = 1 } END { exit !f }' "$root/proc/mounts" 2>/dev/null; then
	log "$mntdir is already mounted"
else
	mount -t "$fstype" "$part" "$root$mntdir" || die "mount $part on $mntdir failed"
fi
log "$busid ($fstype) mounted on $mntdir"
