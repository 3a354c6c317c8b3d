# berth: see README.md. `make test` is what CI runs (through scripts/test.sh).
GO      ?= go
# seccomp: libcontainer's system call filter, against libseccomp
export GOFLAGS := -tags=seccomp
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN     := bin/berth
PKGS    := ./...

.PHONY: build test unit integration lint demo bench docs fuzz clean test-cgroup2

# berth, and beside it berth-init, the static reaper of `run --init`,
# berth-monitor, each running container's monitor, berth-shim, the
# small program a monitor becomes while its container runs,
# berth-keeper, the monitor's tiny parent that recovers from its death,
# and berth-build, which reads Dockerfiles (BuildKit's frontend) for berth
build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/berth
	$(GO) build -o $(dir $(BIN))berth-monitor ./cmd/berth-monitor
	CGO_ENABLED=0 $(GO) build -o $(dir $(BIN))berth-shim ./cmd/berth-shim
	CGO_ENABLED=0 $(GO) build -o $(dir $(BIN))berth-keeper ./cmd/berth-keeper
	CGO_ENABLED=0 $(GO) build -o $(dir $(BIN))berth-build ./cmd/berth-build
	CGO_ENABLED=0 $(GO) build -o $(dir $(BIN))berth-init ./cmd/berth-init

# lint, then every test: unit tests of each package and the end-to-end tests
# in integration/ that drive the built binary.
test: lint
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /integration)

integration:
	$(GO) test -count=1 ./integration/...

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	staticcheck -tags seccomp $(PKGS)

# The container tests on a cgroup v2 kernel, whatever this host runs: a
# Debian guest under qemu (scripts/vm-test.sh; root; the guest is built
# once and cached in /var/cache/berth-vm). The unit tests of runtime and
# container, and the end-to-end tests that set limits, pause, read stats
# and top, or run privileged. CGROUP2_TESTS=... picks others;
# CGROUP2_FLAGS=--systemd boots the guest with systemd as PID 1.
CGROUP2_RUN ?= ^(TestCgroupV2|TestCgroupV2DropsV1Settings|TestPrivilegedCgroup|TestContainerUserAndLimits|TestTopAndStats|TestSeccompDefault|TestComposeNamespaces|TestComposeLifecycle|TestComposeBlkio|TestComposeTools)$$
CGROUP2_TESTS ?= ./runtime ./container './integration=$(CGROUP2_RUN)'
test-cgroup2:
	bash scripts/vm-test.sh $(CGROUP2_FLAGS) $(CGROUP2_TESTS)

# The demo: the example stack (examples/webapp) built from a static binary
# and busybox, `up -d --wait`, `ps`, a page through the published port, and
# `down -v`, in a temporary state root that is removed (scripts/webapp.sh).
demo: build
	@echo '$$ berth -f examples/webapp/compose.yaml config --services   # dependency order'
	@$(BIN) -f examples/webapp/compose.yaml config --services
	@BIN=$(BIN) bash scripts/webapp.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# Regenerate docs/compose-compat.md from project.Support.
docs:
	$(GO) test ./project -run TestCompatDoc -update

# each parser's fuzz test in turn (go test fuzzes one target at a time)
fuzz:
	$(GO) test ./project -run '^$$' -fuzz FuzzLoad -fuzztime 60s
	$(GO) test ./netns -run '^$$' -fuzz FuzzParsePorts -fuzztime 30s
	$(GO) test ./netns -run '^$$' -fuzz FuzzParsePools -fuzztime 30s
	$(GO) test ./dns -run '^$$' -fuzz FuzzFastPath -fuzztime 30s
	$(GO) test ./jsonlog -run '^$$' -fuzz FuzzRead -fuzztime 30s
	$(GO) test ./runtime -run '^$$' -fuzz FuzzParseDeviceRule -fuzztime 30s

clean:
	rm -rf bin
