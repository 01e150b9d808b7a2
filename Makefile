# apilink — the two commands a new machine needs are `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
export APILINK_CACHE_DIR ?= $(HOME)/.cache/apilink

.PHONY: demo test test-unit test-chart e2e fmt-check lint bench emulator control-plane cluster-up cluster-down cluster-smoke build release

## demo: run the main job end to end on the embedded ARM emulator
demo:
	$(CARGO) run --quiet --release -p apilink -- demo

## test: everything CI runs (unit, property, emulator-over-HTTP, chart and end-to-end tests)
test: fmt-check test-unit test-chart e2e

## test-unit: the Rust test suites of every crate
test-unit:
	$(CARGO) test --workspace --exclude apilink-e2e --no-fail-fast

## test-chart: helm lint/template of every values variant, RBAC and hardening checks, deploy/ drift
test-chart:
	bash charts/apilink/test.sh

fmt-check:
	$(CARGO) fmt --all -- --check

lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## bench: benchmarks against the emulator (prints the README's table)
bench:
	$(CARGO) bench -p apilink-engine

## emulator: run the emulator standalone with the demo fixture
emulator:
	$(CARGO) run --quiet -p apilink -- emulator --seed crates/emulator/fixtures/demo-apim.yaml

build:
	$(CARGO) build --workspace --all-targets

release:
	$(CARGO) build --release -p apilink

## e2e: the real controller against a real kube-apiserver (built from Go modules) and the emulator
e2e:
	bash tests/e2e/run.sh

## control-plane: build etcd, kube-apiserver, kubectl and helm from Go modules (cached)
control-plane:
	tests/e2e/control-plane/build.sh

## cluster-up / cluster-down: a loopback kube-apiserver for debugging by hand
cluster-up:
	tests/e2e/control-plane/up.sh

cluster-down:
	tests/e2e/control-plane/down.sh

cluster-smoke:
	bash tests/e2e/control-plane/smoke.sh
