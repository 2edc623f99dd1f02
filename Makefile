# Ferry: `make demo` starts the demo, `make test` runs every test.
# Both install what they need first and are safe to re-run.

SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/ferry/target
CARGO ?= cargo

.PHONY: demo test deps ui test-rust test-ui lint openapi bench

deps:
	@scripts/install-deps.sh

ui: deps
	cd ui && npm run build

demo: deps
	$(CARGO) build -p ferry-server
	scripts/demo.sh "$(CARGO_TARGET_DIR)/debug/ferry-server"

test: deps
	$(CARGO) fmt --all -- --check
	$(MAKE) test-ui
	$(MAKE) test-rust

test-ui:
	cd ui && npm run build && npm test

test-rust:
	$(CARGO) test --workspace --no-fail-fast

lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Rewrites the checked-in OpenAPI document from the handlers.
openapi:
	$(CARGO) run -q -p ferry-server -- openapi > crates/server/openapi.json

bench:
	$(CARGO) run --release -p ferry-bench -- server
