# Gardener: `make run` starts the menu-bar app, `make test` runs every test.
# Both install what they need first (system packages on Debian/Ubuntu, npm packages).

CARGO ?= cargo
UI := ui

.PHONY: run test release deps test-deps ui lint check-macos bindings check-bindings test-rust test-ui clean

## run: build and start the menu-bar app (debug build)
run: deps ui
	$(CARGO) build -p gardener-app -p gardener-cli
	@if [ "$$(uname -s)" = Linux ] && [ -z "$$DISPLAY" ] && [ -z "$$WAYLAND_DISPLAY" ]; then \
	  echo "No display: the menu-bar app needs a desktop session (DISPLAY or WAYLAND_DISPLAY)."; \
	  echo "Without one, use the command line, which does everything the app does:"; \
	  echo "  target/debug/gardener doctor            # what is needed, and how to fix it"; \
	  echo "  target/debug/gardener install --dry-run # what installing would do"; \
	  echo "  target/debug/gardener install           # install and start Ollama and the app"; \
	  echo "  target/debug/gardener service status    # how they are doing"; \
	  echo "Or give the app a virtual display (Debian package xvfb): xvfb-run target/debug/gardener-app"; \
	  exit 1; \
	fi
	target/debug/gardener-app

## test: formatting, lints (also for macOS), generated types, UI tests and every Rust test
test: deps test-deps ui lint check-macos check-bindings test-ui test-rust

## release: optimized app and CLI (on macOS also Gardener.app), and where they are
release: deps ui
	$(CARGO) build --release -p gardener-app -p gardener-cli
	@if [ "$$(uname -s)" = Darwin ]; then \
	  cd $(UI) && npm run tauri -- build --bundles app --config '{"build":{"beforeBuildCommand":""}}' && \
	  echo "Built: $(CURDIR)/target/release/bundle/macos/Gardener.app"; \
	fi
	@echo "Built: $(CURDIR)/target/release/gardener-app (the menu-bar app)"
	@echo "       $(CURDIR)/target/release/gardener (the command line)"

deps: $(UI)/node_modules/.package-lock.json
	@scripts/install-deps.sh

$(UI)/node_modules/.package-lock.json: $(UI)/package-lock.json
	@scripts/install-deps.sh
	cd $(UI) && npm ci --no-audit --no-fund

# What only the tests use: WebDriver for the app's windows, Chromium for the UI.
test-deps:
	@scripts/install-deps.sh --test

ui: deps
	cd $(UI) && npm run build

lint: ui
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## check-macos: type-check and lint the whole workspace for macOS, warnings as errors
## (on Linux with Debian's Rust and -Zbuild-std; on a Mac, clippy for the host)
check-macos: ui test-deps
	scripts/check-macos.sh

## bindings: regenerate the UI's TypeScript types from the Rust types
## (64-bit integers as `number`: they arrive as JSON numbers, not bigints),
## then, from the commands in src-tauri/src/ipc/, everything that lists them:
## the UI's calls, the capability files, build.rs' names and the handlers
## (after the types: a command's types must have bindings)
bindings:
	rm -rf $(UI)/src/bindings
	TS_RS_LARGE_INT=number TS_RS_EXPORT_DIR=$(CURDIR)/$(UI)/src/bindings $(CARGO) test -q -p gardener-core --features ts export_bindings >/dev/null
	TS_RS_LARGE_INT=number TS_RS_EXPORT_DIR=$(CURDIR)/$(UI)/src/bindings $(CARGO) test -q -p gardener-app --features ts --bins export_bindings >/dev/null
	TS_RS_EXPORT_DIR=$(CURDIR)/$(UI)/src/bindings $(CARGO) test -q -p gardener-app --features ts --test commands export_bindings_commands

GENERATED := $(UI)/src/bindings src-tauri/capabilities src-tauri/src/ipc/list.rs src-tauri/src/ipc/handlers.rs

check-bindings: bindings
	@git diff --exit-code --stat -- $(GENERATED) && test -z "$$(git status --porcelain -- $(GENERATED))" \
	  || { echo "generated files are stale ($(GENERATED)): run 'make bindings' and commit the result"; exit 1; }

# Unit tests, then the built UI in Chromium.
test-ui: ui test-deps
	cd $(UI) && npm test

# nextest runs test binaries in parallel and ends with one summary line;
# plain `cargo test` does the same work where nextest is not installed.
# The end-to-end tests run the app and CLI binaries, which a test run alone
# does not build.
test-rust: ui
	$(CARGO) build -p gardener-app -p gardener-cli
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
	  $(CARGO) nextest run --workspace --no-fail-fast; \
	else \
	  $(CARGO) test --workspace --no-fail-fast; \
	fi

clean:
	$(CARGO) clean
	rm -rf $(UI)/dist $(UI)/node_modules
