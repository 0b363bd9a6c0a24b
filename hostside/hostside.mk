# Host daemon targets. Included from the Makefile by the line
#   -include hostside/hostside.mk
BENCH_TARGETS += bench-hostd

.PHONY: bench-hostd
bench-hostd: ## REST layer overhead per call against the in-memory fake backend (ns/op, allocs/op)
	@echo "== zguest-hostd REST layer on the fake backend (inproc: ServeHTTP; loopback: HTTP over TCP)"
	$(GO) test -run '^$$' -bench BenchmarkREST -benchmem -benchtime 2000x ./hostside/api/

BENCH_TARGETS += bench-hostd-zvm

.PHONY: bench-hostd-zvm
bench-hostd-zvm: build ## the built daemon on the in-process z/VM simulator: spawn latency, throughput, RSS, its share per call
	@echo "== zguest-hostd binary on the z/VM simulator: nova's spawn for 1 and 50 concurrent guests"
	$(GO) run ./internal/tools/benchhostd -hostd $(BIN)/zguest-hostd

BENCH_TARGETS += bench-dpm

.PHONY: bench-dpm
bench-dpm: ## the DPM backend on the in-process HMC simulator: 4-NIC spawn latency at 0 and 50 ms, HMC requests per spawn, 20 concurrent vs 2 sequential
	@echo "== DPM backend (in-process) on the HMC simulator (in-process, HTTPS): nova's spawn of a 4-NIC partition"
	$(GO) run ./internal/tools/benchdpm -inventory testdata/hmc/dpm-z14.yaml

# The kvm backend's real-libvirt tests and benchmark: libvirtd with the QEMU
# driver, qemu-system-s390x (qemu-system-misc) and qemu-img. The tests start
# libvirtd themselves (internal/libvirttest): no systemd needed.
APT_PKGS += libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-misc qemu-utils

BENCH_TARGETS += bench-kvm

.PHONY: bench-kvm
bench-kvm: build build-s390x ## kvm backend on a real libvirtd: create -> first console line and -> cloud-init finished, the daemon's share
	$(GO) run ./internal/tools/benchkvm -hostd $(BIN)/zguest-hostd

# The nova conformance suite (hostside/conformance): nova's own z/VM driver
# (Debian's python3-nova, python3-zvmcloudconnector), genisoimage for the
# config drive nova builds, and openssh-server for the private sshd the
# daemon scp's transportfiles and images from.
APT_PKGS += python3-nova python3-zvmcloudconnector openssh-server genisoimage

BENCH_TARGETS += bench-hostd-hostile

.PHONY: bench-hostd-hostile
bench-hostd-hostile: build ## the built daemon's peak RSS under 100 hostile 1 MiB bodies and 50 concurrent 1 GiB deploys, next to the targets
	@echo "== zguest-hostd peak RSS under hostile load (targets: < 150 MiB bodies, < 100 MiB deploys)"
	$(GO) run ./internal/tools/benchhostile -hostd $(BIN)/zguest-hostd
