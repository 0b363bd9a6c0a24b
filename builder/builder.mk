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

BENCH_TARGETS += bench-builder bench-image

# BENCH_BUILDER_FLAGS can pass e.g. "-runs 9", "-dir /var/tmp" or
# '-real "/usr/bin /usr/share/doc"' (compression of real files, slow: qemu-img
# -c needs about 25 s per run).
BENCH_BUILDER_FLAGS ?=

bench-builder: build ## zguest-image vs qemu-img convert (plain, -c, back to raw) and nova's config drive path; median of 5, ratios and sizes
	$(GO) run ./builder/internal/benchtool -zguest-image $(BIN)/zguest-image $(BENCH_BUILDER_FLAGS)

bench-image: build build-s390x ## zguest-image build of the test root file system vs tar + mkfs.ext4 -d + qemu-img convert, and the zvm DASD build vs KIWI's loop-device way (root); time and peak memory
	$(GO) run ./internal/tools/benchimage -zguest-image $(BIN)/zguest-image -agent $(BIN)/s390x/zguest-agent
