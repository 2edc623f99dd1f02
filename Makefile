# Ferry: `make demo` starts the demo, `make test` runs every test.
# Both install what they need first and are safe to re-run.

SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/ferry/target
CARGO ?= cargo
# The PostgreSQL server of the store tests; `make pg` makes it answer.
export FERRY_TEST_PG_URL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: demo demo-two demo-server test deps pg moto ui app test-rust test-ui test-hostile soak lint openapi bindings bench bench-load bench-scale bench-rows bench-files bench-encryption

deps:
	@scripts/install-deps.sh

# PostgreSQL on 127.0.0.1:5432 (installed and started if none answers).
pg:
	@scripts/postgres.sh

ui: deps
	cd ui && npm run build

# The desktop app embeds ui/dist, so the UI is built first.
app: ui
	$(CARGO) build -p ferry-server -p ferry-cli -p ferry-desktop

# The seeded server on loopback and the app, signed in as alice.
demo: app
	scripts/demo.sh "$(CARGO_TARGET_DIR)/debug" alice

# App windows with separate profiles: alice and bob to try a conflict, and
# carol, who sees the north's contacts only, to watch row rules at work.
demo-two: app
	scripts/demo.sh "$(CARGO_TARGET_DIR)/debug" alice bob carol

# Only the seeded server, in the foreground.
demo-server: deps
	$(CARGO) build -p ferry-server
	scripts/demo.sh "$(CARGO_TARGET_DIR)/debug"

test: deps
	scripts/prune-build-cache.py
	$(CARGO) fmt --all -- --check
	$(MAKE) test-ui
	$(MAKE) lint
	$(MAKE) test-rust
	$(MAKE) test-admin
	$(MAKE) test-hostile
	$(MAKE) test-package

test-ui:
	cd ui && npm run build && npm test && npm run test:e2e

# moto (PyPI) in a venv under ~/.cache/ferry: a real S3 API for the blob store tests.
moto:
	@scripts/moto.sh > /dev/null

# The desktop end-to-end test drives the built app, ferry-server and the CLI.
# The PostgreSQL and S3 tests fail (never skip) here: FERRY_REQUIRE_PG, FERRY_REQUIRE_S3.
test-rust: pg moto
	$(CARGO) build -p ferry-server -p ferry-cli
	FERRY_REQUIRE_PG=1 FERRY_REQUIRE_S3=1 $(CARGO) test --workspace --no-fail-fast

# The admin console in Debian's Chromium against a real ferry-server and the
# ferry CLI (ui/e2e-admin); screenshots in test-artifacts/admin.
.PHONY: test-admin
test-admin: deps
	cd ui && npx vite build --config vite.admin.config.ts
	$(CARGO) build -p ferry-server -p ferry-cli
	cd ui && npm run test:admin

.PHONY: package test-package

# Release installers: the app's .deb and .rpm, the server's .deb (docs/install.md).
package: deps
	scripts/package.sh

# Installs the built packages, starts the installed app and server, uninstalls.
test-package: deps
	scripts/test-package.sh

# Schemathesis against the served OpenAPI document, and short cargo-fuzz runs
# of the mutation parser and the merge (see RELIABILITY.md).
test-hostile:
	$(CARGO) build -p ferry-server
	scripts/schemathesis.sh "$(CARGO_TARGET_DIR)/debug"
	scripts/fuzz.sh

# The long runs of the reliability tests, by hand (see RELIABILITY.md).
soak:
	$(CARGO) build -p ferry-server -p ferry-cli
	FERRY_SOAK=1 $(CARGO) test -p ferry-reliability -- --nocapture --test-threads 1
	FERRY_SOAK=1 $(MAKE) test-hostile

# Clippy with the workspace lints (`unwrap_used` among them) as errors, and
# svelte-check with tsc over the UI. The desktop crate embeds ui/dist: `make ui` first.
lint:
	cd ui && npm run check
	scripts/bench-tables.py check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Rewrites the checked-in OpenAPI document from the handlers.
openapi:
	$(CARGO) run -q -p ferry-server -- openapi > crates/server/openapi.json

# Rewrites the TypeScript declarations of the IPC types from the Rust types.
bindings:
	FERRY_UPDATE_BINDINGS=1 $(CARGO) test -p ferry-desktop --bin ferry-desktop typescript_bindings

bench:
	$(CARGO) run --release -p ferry-bench -- server

# 200 clients against SQLite, PostgreSQL, and two processes on PostgreSQL (about 4 min).
bench-load: pg
	$(CARGO) build --release -p ferry-server -p ferry-bench
	"$(CARGO_TARGET_DIR)/release/ferry-bench" load

# A million records: 1000 clients holding event streams (50 pushing and pulling) against SQLite,
# PostgreSQL and two processes on PostgreSQL, and the initial pull of every record into a new
# profile (about 10 min); then the desktop app over a million records (scripts/desktop-perf.py,
# about as long again). About 10 GB of disk at the peak (SCALE_DIR=/dev/shm puts the databases
# in memory). Try it small first: SCALE_ARGS="--records 20000 --clients 100 --active 10 --secs 10".
SCALE_DIR ?= $(TMPDIR)
bench-scale: pg
	$(CARGO) build --release -p ferry-server -p ferry-bench
	ulimit -n $$(ulimit -Hn) && "$(CARGO_TARGET_DIR)/release/ferry-bench" scale $(if $(SCALE_DIR),--dir "$(SCALE_DIR)") $(SCALE_ARGS) \
		| scripts/bench-tables.py add docs/bench/scale.json
	scripts/bench-tables.py write
	$(MAKE) ui
	$(CARGO) build --release -p ferry-server -p ferry-cli -p ferry-desktop
	TMPDIR="$(or $(SCALE_DIR),/tmp)" scripts/desktop-perf.py --records 1000000 --bin-dir "$(CARGO_TARGET_DIR)/release" \
		| tee docs/bench/scale-desktop.json

# Attached files: 200 x 1 MB and 200 MB sent and fetched by the ferry client, against cp (about a minute).
bench-files:
	$(CARGO) build --release -p ferry-bench -p ferry-cli
	"$(CARGO_TARGET_DIR)/release/ferry-bench" files

# What encrypting the profile costs: pulls of 100,000 records and local edits, on and off (a few minutes).
bench-encryption:
	$(CARGO) build --release -p ferry-bench
	"$(CARGO_TARGET_DIR)/release/ferry-bench" encryption | scripts/bench-tables.py add docs/bench/encryption.json
	scripts/bench-tables.py write

# Row rules: a million records partitioned 100 ways, on SQLite and PostgreSQL (a few minutes).
bench-rows: pg
	$(CARGO) build --release -p ferry-bench
	"$(CARGO_TARGET_DIR)/release/ferry-bench" rows
