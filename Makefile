# zguest — one entry point for building, testing and benchmarking.
# `make help` lists the targets.

SHELL        := /bin/bash
GO           ?= go
BIN          := $(CURDIR)/bin
# Slow fixtures (debootstrap trees, kernels) are cached here; nothing may
# depend on the cache being present.
CACHE_DIR    ?= $(CURDIR)/.cache
TOOLS_BIN    := $(CACHE_DIR)/tools
STATICCHECK  := $(TOOLS_BIN)/staticcheck
STATICCHECK_VERSION := v0.8.2
TEST_TIMEOUT ?= 45m
FUZZTIME     ?= 10s
export GOFLAGS := -buildvcs=false
# Tests and benchmarks find the fixture cache and the built programs here.
export ZGUEST_CACHE_DIR   := $(CACHE_DIR)
export ZGUEST_AGENT_S390X := $(BIN)/s390x/zguest-agent
export ZGUEST_IMAGE_BIN   := $(BIN)/zguest-image
# One version for every binary and package: the tag, else git describe,
# else (no git) a fallback; packaging.GitVersion computes the same.
VERSION      ?= $(shell git describe --tags --match 'v[0-9]*' --always --dirty 2>/dev/null || echo 0.0.0-unknown)
LDFLAGS      := -s -w -X github.com/zguest/zguest/internal/version.Version=$(VERSION)
DIST         := $(CURDIR)/dist

# Debian packages. The halves add theirs in their .mk fragments.
APT_PKGS := libudev-dev pkg-config gcc libc6-dev fuse3 iproute2 util-linux systemd udev file \
            gcc-s390x-linux-gnu libc6-dev-s390x-cross libudev-dev:s390x \
            genisoimage cloud-init
# The package tests: lintian on the .debs, rpm -qp / rpm --root on the .rpms.
APT_PKGS += lintian rpm
BENCH_TARGETS := bench-agent
-include builder/builder.mk
-include hostside/hostside.mk

S390X_CGO_ENV := CGO_ENABLED=1 GOARCH=s390x CC=s390x-linux-gnu-gcc \
                 PKG_CONFIG_PATH=/usr/lib/s390x-linux-gnu/pkgconfig
PURE_CMDS  := $(filter-out zguest-agent,$(notdir $(wildcard cmd/zguest-*)))
STRICT     := $(if $(CI),-strict,)
# The agent links libudev (go-udev) and nothing else in C.
AGENT_TAGS := netgo,osusergo

.PHONY: help deps build build-s390x packages test lint fuzz bench demo clean $(BENCH_TARGETS)

help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | sort

deps: ## install the Debian packages and Go tools this project needs
	@scripts/install-deps.sh $(APT_PKGS)
	@$(GO) mod download

$(STATICCHECK):
	@mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

build: deps ## build every program for this machine into bin/
	@mkdir -p $(BIN)
	CGO_ENABLED=1 $(GO) build -ldflags "$(LDFLAGS)" -tags $(AGENT_TAGS) -o $(BIN)/zguest-agent ./cmd/zguest-agent
	@for c in $(PURE_CMDS); do echo "CGO_ENABLED=0 $(GO) build -ldflags \"$(LDFLAGS)\" -o $(BIN)/$$c ./cmd/$$c"; \
	  CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/$$c ./cmd/$$c || exit 1; done

build-s390x: deps ## cross-compile every program for linux/s390x into bin/s390x/
	@mkdir -p $(BIN)/s390x
	$(S390X_CGO_ENV) $(GO) build -ldflags "$(LDFLAGS)" -tags $(AGENT_TAGS) -o $(BIN)/s390x/zguest-agent ./cmd/zguest-agent
	@for c in $(PURE_CMDS); do echo "CGO_ENABLED=0 GOARCH=s390x $(GO) build -ldflags \"$(LDFLAGS)\" -o $(BIN)/s390x/$$c ./cmd/$$c"; \
	  CGO_ENABLED=0 GOARCH=s390x $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/s390x/$$c ./cmd/$$c || exit 1; done
	@file $(BIN)/s390x/* 2>/dev/null || true

packages: build build-s390x ## .deb and .rpm packages of the agent (s390x), the daemon and the image tool (s390x, amd64) into dist/
	$(GO) run ./internal/tools/mkpkg -version "$(VERSION)" -bin $(BIN) -o $(DIST)

test: deps build build-s390x ## run every test (root-only tests run when root; CI fails on unexpected skips)
	$(GO) vet ./...
	@set -o pipefail; $(GO) test -json -count=1 -timeout $(TEST_TIMEOUT) ./... \
	  | $(GO) run ./internal/tools/testreport $(STRICT)

lint: deps $(STATICCHECK) ## gofmt, go vet and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null; git ls-files -o --exclude-standard '*.go' 2>/dev/null)); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

fuzz: deps ## run every fuzz target for FUZZTIME (default 10s) each
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for t in $$(grep -h '^func Fuzz' $$f/*_test.go | sed -E 's/func (Fuzz[A-Za-z0-9_]*).*/\1/'); do \
	    echo "== $$f $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 1x $$f; done; done

bench: deps build $(BENCH_TARGETS) ## benchmarks with ratios against the tools we replace

bench-agent: build ## the agent engine (in-process) and binary (FUSE emulator) vs the restated nova-dpm tools + znetconf, with and without set-online latency; z/VM receive+stage
	@echo "== agent engine on the in-process model (engine-ms/op: its own time for 12 NICs; wall/L: 12 NICs with a 300 ms set-online latency L)"
	$(GO) test -run '^$$' -bench 'BenchmarkActivate12$$' -benchtime 20x ./agent/activate/
	$(GO) test -run '^$$' -bench 'BenchmarkActivate12Latency$$' -benchtime 5x ./agent/activate/
	@echo "== zguest-agent binary vs the restated originals (nova-dpm + znetconf/lsznet.raw + udevadm settle + setmac.sh), on the FUSE emulator"
	$(GO) run ./internal/tools/benchagent -agent $(BIN)/zguest-agent

demo: deps build ## the agent on a 12-NIC DPM command line; nova -> zguest-hostd -> simulated z/VM, and -> simulated HMC -> the agent
	$(GO) run ./internal/tools/demo -agent $(BIN)/zguest-agent

clean: ## remove build output (keeps the fixture cache)
	rm -rf $(BIN) $(DIST)
