# loopat desktop. The two commands: `make run` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := run

GO            ?= go
GOBIN         := $(shell $(GO) env GOPATH)/bin
WAILS_VERSION := $(shell awk '$$1=="github.com/wailsapp/wails/v2"{print $$2}' go.mod)
WAILS         := $(GOBIN)/wails
# Expanded once (:=), so the desktop binary and its headless twin carry the same version.
ifeq ($(origin VERSION),undefined)
VERSION       := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
endif
GO_TAGS       := remote,exclude_graphdriver_btrfs,containers_image_openpgp
UNAME_S       := $(shell uname -s)
ifeq ($(UNAME_S),Linux)
WAILS_TAGS    := webkit2_41 libsqlite3 remote exclude_graphdriver_btrfs containers_image_openpgp
else
WAILS_TAGS    := remote exclude_graphdriver_btrfs containers_image_openpgp
endif
LDFLAGS       := -X github.com/loopat/desktop/backend/version.Version=$(VERSION)
# The sandbox runs Linux on the host's CPU architecture (inside the podman VM on macOS).
SANDBOX_ARCH  := $(shell uname -m | sed -e 's/aarch64/arm64/' -e 's/x86_64/amd64/')
BIN           := build/bin/loopat
HEADLESS_BIN  := build/bin/loopat-headless
ITEST_TIMEOUT ?= 60m

.PHONY: run build headless deps system-deps frontend-deps wails-cli frontend forwarder test test-deps test-setup \
        test-unit vet-darwin generate test-integration test-e2e test-gui test-rootless bench package clean

## run: install what is missing, build, open the desktop window
run: build
	$(BIN)

## build: the desktop binary build/bin/loopat (frontend, forwarder and Go backend)
build: deps frontend forwarder
	$(WAILS) build -s -skipbindings -m -trimpath -tags "$(WAILS_TAGS)" -ldflags "$(LDFLAGS)" -o loopat
	$(MAKE) --no-print-directory headless VERSION=$(VERSION)

## headless: build/bin/loopat-headless, the CLI without WebKit (loopat execs it for commands; backend/headless)
headless:
	CGO_ENABLED=0 $(GO) build -trimpath -tags "headless,$(GO_TAGS)" -ldflags "-s -w $(LDFLAGS)" -o $(HEADLESS_BIN) .
	@if [ -d build/bin/loopat.app/Contents/MacOS ]; then cp $(HEADLESS_BIN) build/bin/loopat.app/Contents/MacOS/; fi

deps: system-deps frontend-deps wails-cli

system-deps:
	@if [ "$(UNAME_S)" = "Linux" ]; then scripts/install-deps.sh run; fi

frontend-deps: frontend/node_modules/.package-lock.json
frontend/node_modules/.package-lock.json: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	@touch $@

wails-cli:
	@if ! $(WAILS) version 2>/dev/null | grep -qx "$(WAILS_VERSION)"; then \
	  echo "installing wails CLI $(WAILS_VERSION)"; \
	  $(GO) install github.com/wailsapp/wails/v2/cmd/wails@$(WAILS_VERSION); fi

frontend: frontend-deps
	cd frontend && npm run build
	@touch frontend/dist/.gitkeep

## generate: frontend/src/api/generated.ts from the Go services (TestGeneratedTSIsCurrent checks it)
generate:
	CGO_ENABLED=0 $(GO) run -tags $(GO_TAGS) ./backend/rpc/cmd/gen-ts -o frontend/src/api/generated.ts

## forwarder: the static host-exec forwarder baked into the sandbox image
forwarder:
	CGO_ENABLED=0 GOOS=linux GOARCH=$(SANDBOX_ARCH) $(GO) build -buildvcs=false -trimpath -ldflags "-s -w" \
	  -o backend/images/bin/loopat-host ./cmd/loopat-host

## test: install what the tests need, then run every suite
test: test-deps test-unit test-setup test-integration test-race test-e2e test-gui test-rootless test-podman5 bench-report
	@echo "make test: all suites passed"

test-deps:
	scripts/install-deps.sh test

## test-unit: no cgo, no GTK, no podman
test-unit: forwarder frontend-deps
	CGO_ENABLED=0 $(GO) test -count=1 -tags $(GO_TAGS) ./...
	$(MAKE) --no-print-directory vet-darwin
	# tsc checks the frontend against the Go services' generated types (make generate)
	cd frontend && npm run typecheck --silent && npm test --silent

## vet-darwin: the backend cross-compiled for macOS (no cgo: the tray's Objective-C half is left
## out, the macOS workflow builds it). Catches darwin-only build breaks on Linux machines.
vet-darwin:
	GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 $(GO) vet -tags $(GO_TAGS) \
	  $$(GOOS=darwin $(GO) list -tags $(GO_TAGS) ./backend/... ./cmd/... | grep -v '/backend/tray$$')

## test-setup: host podman drop-in, local base image, pinned Claude Code CLI, sandbox image (all cached)
test-setup: forwarder
	scripts/test/host-setup.sh
	scripts/test/base-image.sh
	scripts/test/claude-cli.sh >/dev/null
	scripts/test/build-sandbox.sh

## test-integration: real podman, real claude, real Secret Service (under a private D-Bus).
## Builds first: the .deb test (backend/tray) packages the real build/bin/loopat.
test-integration: forwarder build
	LOOPAT_TEST_CLAUDE_BIN="$$(scripts/test/claude-cli.sh)" LOOPAT_DEB_BIN="$(CURDIR)/$(BIN)" \
	  scripts/test/with-keyring.sh $(GO) test -count=1 -p 1 -timeout $(ITEST_TIMEOUT) \
	  -tags integration,$(GO_TAGS) ./...

## test-race: the race detector (needs cgo and gcc) over the unit tests of loops, engine,
## hostexec and events, and the loops' lifetime race tests with real containers
## (delete during start, archive during a turn, close during re-link)
.PHONY: test-race
test-race: forwarder test-setup
	CGO_ENABLED=1 $(GO) test -race -count=1 -p 1 -tags $(GO_TAGS) \
	  ./backend/loops/... ./backend/engine/... ./backend/hostexec/... ./backend/events/...
	LOOPAT_TEST_CLAUDE_BIN="$$(scripts/test/claude-cli.sh)" CGO_ENABLED=1 \
	  scripts/test/with-keyring.sh $(GO) test -race -count=1 -p 1 -timeout 20m \
	  -tags integration,$(GO_TAGS) -run '^TestRace' ./backend/loops/

## test-e2e: Playwright (playwright-core + Debian Chromium) against `loopat serve`
test-e2e: build test-setup
	$(GO) build -o build/test-bin/mock-anthropic ./internal/testkit/cmd/mock-anthropic
	cd tests/e2e && npm ci --no-audit --no-fund && \
	  LOOPAT_BIN="$(CURDIR)/$(BIN)" LOOPAT_E2E_AGENT=1 LOOPAT_E2E_MOCK_BIN="$(CURDIR)/build/test-bin/mock-anthropic" \
	  ../../scripts/test/with-keyring.sh node --test

## test-gui: the real window under Xvfb, screenshot saved to artifacts/
test-gui: build
	scripts/test/gui-screenshot.sh $(BIN) artifacts/desktop-window.png
	scripts/test/single-instance.sh $(BIN)

## test-rootless: integration suites of loops and its neighbours plus the e2e journey, as an
## unprivileged user (loopattest, made by scripts/test/rootless-user.sh) on rootless podman
test-rootless: build test-setup
	scripts/test/rootless-suite.sh

## test-podman5: integration tests of engine, images, hostexec, terminal, loops and core against
## podman 5 (built once from the Go module proxy, cached in /var/cache/loopat-test) on a private
## store beside podman 4 (scripts/test/podman5-suite.sh; LOOPAT_PODMAN5_FULL=1 runs every test)
.PHONY: test-podman5
test-podman5: forwarder test-setup
	scripts/test/podman5-suite.sh

## package: the Linux .deb (binary, .desktop entry, icons) in build/package/
package: build
	scripts/package-deb.sh $(BIN) $(VERSION) build/package

## bench: speed goals, measured side by side; bench/report runs last (it writes docs/benchmarks.md).
## bench/transcript drives `loopat serve` in Chromium (the built binary, tests/e2e's playwright-core)
## `make bench` starts from an empty artifacts/bench.json (every row is of this run), runs the slow scale
## curves too (LOOPAT_BENCH_SCALE=1) and FAILS when a goal is missed beyond the noise margin beside it.
## `make test` runs bench-report: the same benches without the scale curves, reporting only (CI is noisy).
BENCHES := $(filter-out bench/report/,$(wildcard bench/*/)) bench/report/
bench: build forwarder test-setup
	cd tests/e2e && npm ci --no-audit --no-fund
	rm -f artifacts/bench.json
	for b in $(BENCHES); do echo "== $$b"; LOOPAT_BENCH_SCALE=1 $(GO) run -tags bench,$(GO_TAGS) ./$$b || exit 1; done

.PHONY: bench-report
bench-report: build forwarder test-setup
	cd tests/e2e && npm ci --no-audit --no-fund
	for b in $(BENCHES); do echo "== $$b"; LOOPAT_BENCH_ENFORCE=0 $(GO) run -tags bench,$(GO_TAGS) ./$$b || exit 1; done

clean:
	rm -rf build/bin frontend/dist/assets frontend/dist/index.html artifacts
