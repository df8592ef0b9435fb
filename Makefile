# trustjoin: see README.md. Every target runs from a fresh clone; what it
# needs from Debian is installed by .ci/run (CI) or `make deps` (a laptop).

GO      ?= go
export GOTOOLCHAIN := local
export CGO_ENABLED := 0
# The build tags of shipped binaries (scripts/build/targets.sh), for tests too.
GOTAGS  := $(shell . scripts/build/targets.sh && echo $$GOTAGS)
GCFLAGS := $(shell . scripts/build/targets.sh && echo $$GOGCFLAGS)
export GOFLAGS += -tags=$(GOTAGS)
VERSION := $(shell scripts/build/version.sh 2>/dev/null || echo 0.0.0)
LDFLAGS := -s -w -X github.com/trustjoin/trustjoin/src/internal/build.Version=$(VERSION)

.PHONY: all build cross ipk size test test-go test-openwrt test-tr069 test-fuzz test-lab test-ui demo bench lint fmt deps clean help

all: build ## build the binary for this machine (.build/trustjoin)

build: ## build the binary for this machine
	$(GO) build -trimpath $(GCFLAGS) -ldflags '$(LDFLAGS)' -o .build/trustjoin ./src/cmd/trustjoin

cross: ## stripped binaries for every OpenWrt target (.build/bin/<arch>/)
	scripts/build/cross.sh

ipk: ## OpenWrt packages without the SDK (.build/ipk/)
	scripts/build/ipk.sh

size: ## binary and package sizes per target; fails over the mipsel_24kc budget
	scripts/build/size.sh

test: test-go test-fuzz test-lab test-ui ## unit, netns, package, fuzz, lab (real radios) and browser tests

test-go: ## Go tests: unit, nftables/netns (as root), packages, black-box
	@unformatted=$$(gofmt -l src test); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) test -count=1 -timeout 20m ./...

test-openwrt: ## (part of test-go) opkg install/upgrade/remove, procd, rpcd and ujail on OpenWrt's real userland (scripts/openwrt)
	$(GO) test -count=1 -timeout 20m ./test/openwrt/

test-tr069: ## (part of test-go) the TR-069 files under the real bbfdm and easycwmp (CWMP, USP, faults), on OpenWrt's userland
	$(GO) test -count=1 -timeout 20m ./test/tr069/

test-fuzz: ## every fuzz target on FUZZTIME inputs each (default 5000x)
	scripts/fuzz.sh

test-lab: ## scenarios on simulated radios in a VM (hostapd, wpa_supplicant), and the tests that need 802.1Q VLANs or flowtables
	scripts/lab/run-all.sh
	test/blackbox/lab-kernel.sh

test-ui: ## browser and LuCI view tests
	@if [ -x test/ui/run.sh ]; then test/ui/run.sh; else echo "no UI tests yet"; fi

demo: ## the main job on a simulated home network
	scripts/lab/demo.sh

bench: ## benchmarks, printed as ratios against a baseline from the same run
	@if [ -x scripts/bench.sh ]; then scripts/bench.sh; else echo "no benchmarks yet"; fi

lint: ## go vet and staticcheck
	$(GO) vet ./...
	staticcheck ./...

fmt: ## gofmt the tree
	gofmt -w src test

deps: ## install what the tests need (Debian, as root)
	.ci/install-deps.sh

clean:
	rm -rf .build

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12
