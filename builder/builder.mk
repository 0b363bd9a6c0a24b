# builder/builder.mk — the image builder's part of the top Makefile.

# Independent readers and reference tools the builder tests and benchmarks
# run: isoinfo (genisoimage), xorriso, fsck.vfat/mkfs.vfat (dosfstools),
# mdir/mcopy/mtype (mtools), qemu-img (qemu-utils), cloud-init's own
# ConfigDrive reader (cloud-init, run with /usr/bin/python3), blkid
# (util-linux).
APT_PKGS += genisoimage xorriso dosfstools mtools qemu-utils cloud-init python3 util-linux
# zguest-image build: mke2fs -d and debugfs (e2fsprogs). Its end-to-end test
# builds a Debian s390x root file system (debootstrap under qemu-user, via
# binfmt_misc) and boots the image (qemu-system-s390x is in
# qemu-system-misc).
APT_PKGS += e2fsprogs debootstrap qemu-user-static binfmt-support qemu-system-misc
# builder/initrd's tests: an independent cpio reader, initramfs-tools'
# lsinitramfs, and the shells its scripts run under in initramfs images.
APT_PKGS += cpio initramfs-tools-core dash busybox
# imagebuild's metadata-service boot: dnsmasq answers the guest's DHCP in a
# private network namespace, as Neutron's DHCP agent does.
APT_PKGS += dnsmasq-base

BENCH_TARGETS += bench-builder bench-image

# BENCH_BUILDER_FLAGS can pass e.g. "-runs 9", "-dir /var/tmp",
# '-real "/usr/bin /usr/share/doc"' (the real files compressed; default
# /usr/bin /usr/share, 360 MiB in a 3 GiB raw; qemu-img -c needs 10-30 s a run),
# "-real-data 120 -real-size 1024" or "-rt" (those runs under SCHED_FIFO, root:
# the cores to themselves on a shared machine).
BENCH_BUILDER_FLAGS ?=

bench-builder: build ## zguest-image vs qemu-img convert (plain, -c, back to raw, -c of real files with the 1.8x target) and nova's config drive path; medians, ratios and sizes
	$(GO) run ./builder/internal/benchtool -zguest-image $(BIN)/zguest-image $(BENCH_BUILDER_FLAGS)

bench-image: build build-s390x ## zguest-image build of the test root file system vs tar + mkfs.ext4 -d + qemu-img convert, and the zvm DASD build vs KIWI's loop-device way (root); time and peak memory
	$(GO) run ./internal/tools/benchimage -zguest-image $(BIN)/zguest-image -agent $(BIN)/s390x/zguest-agent
