# berth: see README.md. `make test` is what CI runs (through scripts/test.sh).
GO      ?= go
# seccomp: libcontainer's system call filter, against libseccomp
export GOFLAGS := -tags=seccomp
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN     := bin/berth
PKGS    := ./...

.PHONY: build test unit integration lint demo bench docs fuzz clean

# berth, and beside it berth-init, the static reaper of `run --init`
build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/berth
	CGO_ENABLED=0 $(GO) build -o $(dir $(BIN))berth-init ./cmd/berth-init

# lint, then every test: unit tests of each package and the end-to-end tests
# in integration/ that drive the built binary.
test: lint
	$(GO) test -race -count=1 $(PKGS)

unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /integration)

integration:
	$(GO) test -count=1 ./integration/...

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	staticcheck -tags seccomp $(PKGS)

# The demo: what berth does today (it grows with the issues into
# `up -d --wait` of examples/webapp, a page fetched through a published port,
# `down`). It works in a temporary state root and removes it.
demo: build
	@echo '$$ berth -f examples/webapp/compose.yaml config --services   # dependency order'
	@$(BIN) -f examples/webapp/compose.yaml config --services
	@echo
	@echo '$$ berth -f examples/webapp/compose.yaml config --hash "*"'
	@$(BIN) -f examples/webapp/compose.yaml config --hash '*'
	@echo
	@set -e; root=$$(mktemp -d); rootfs=$$root/rootfs; \
	run=/run/berth/$$(printf '%s' "$$root/state" | sha256sum | cut -c1-12); \
	trap 'rm -rf $$root $$run' EXIT; \
	mkdir -p $$rootfs/bin $$rootfs/etc; cp /bin/busybox $$rootfs/bin/; \
	for a in sh echo cat sleep hostname id; do ln -s busybox $$rootfs/bin/$$a; done; \
	echo 'root:x:0:0:root:/root:/bin/sh' > $$rootfs/etc/passwd; \
	B="$(BIN) --root $$root/state"; \
	echo '$$ berth image import -c '"'"'CMD ["sh"]'"'"' ./rootfs demo/busybox:1'; \
	$$B image import -c 'CMD ["sh"]' $$rootfs demo/busybox:1; $$B image ls; echo; \
	echo '$$ berth container run --rm -v notes:/notes demo/busybox:1 sh -c ...'; \
	$$B container run --rm -v notes:/notes demo/busybox:1 sh -c 'echo "hello from $$(hostname), uid $$(id -u)" | tee /notes/hello'; \
	echo '$$ berth container run --rm -v notes:/notes demo/busybox:1 cat /notes/hello   # the volume kept it'; \
	$$B container run --rm -v notes:/notes demo/busybox:1 cat /notes/hello; \
	echo '$$ berth container run -d --name ticker demo/busybox:1 sh -c ...; berth container logs ticker'; \
	$$B container run -d --name ticker demo/busybox:1 sh -c 'for i in 1 2 3; do echo tick $$i; done; sleep 30' >/dev/null; \
	sleep 0.5; $$B container ps; $$B container logs ticker; $$B container rm -f ticker >/dev/null; \
	$$B volume rm notes >/dev/null; echo; \
	trap '$$B container rm -f web >/dev/null 2>&1; $$B network rm -f demo-net >/dev/null; rm -rf $$root $$run' EXIT; \
	echo '$$ berth network create demo-net; berth container run -d --name web --network demo-net demo/busybox:1 ...'; \
	$$B network create demo-net >/dev/null; $$B network ls; \
	$$B container run -d --name web --network demo-net demo/busybox:1 sh -c 'while true; do busybox nc -l -p 8080 -e echo hello from web; done' >/dev/null; \
	ip=$$($$B container inspect -f '{{(index .NetworkSettings.Networks "demo-net").IPAddress}}' web); \
	echo "$$ berth container run --rm --network demo-net demo/busybox:1 busybox nc $$ip 8080   # web's address"; \
	$$B container run --rm --network demo-net demo/busybox:1 busybox nc $$ip 8080 </dev/null

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# Regenerate docs/compose-compat.md from project.Support.
docs:
	$(GO) test ./project -run TestCompatDoc -update

fuzz:
	$(GO) test ./project -run '^$$' -fuzz FuzzLoad -fuzztime 60s

clean:
	rm -rf bin
