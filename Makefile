# dayone — the two commands a user needs are `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
DAYONE := target/debug/dayone

.PHONY: demo test lint build bench bench-asl bench-ledger bench-policy bench-connectors bench-flow deploy-sam deploy-cdk infra-check venv fmt clippy

## Run one hire end to end on the local engine, with local twins of every system.
demo:
	$(CARGO) build -q -p dayone-cli
	$(DAYONE) run tests/fixtures/hires/ada-lovelace.json --config dayone.toml

## Everything CI runs: unit, conformance, integration, DynamoDB (moto), infra lint.
test: venv
	scripts/with-moto.sh $(CARGO) test --workspace --no-fail-fast
	PATH="$(CURDIR)/.venv/bin:$$PATH" infra/check.sh

venv:
	scripts/venv.sh >/dev/null

fmt:
	$(CARGO) fmt --all

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

lint: clippy
	$(CARGO) fmt --all -- --check

## Cross-compile every Lambda for Graviton (needs `pip install cargo-lambda`).
build:
	cargo lambda build --release --arm64 -p ingress -p allocate-username -p create-account -p issue-tap -p hris-writeback -p create-ticket -p notify-failure

## Benchmarks (release builds; figures go in the README).
bench: venv bench-asl bench-policy bench-ledger bench-connectors bench-flow

bench-asl:
	DAYONE_BENCH_SECONDS=2 DAYONE_BENCH_MOTO=$(CURDIR)/.venv/bin/python DAYONE_BENCH_MOTO_N=20 \
		$(CARGO) bench -p dayone-asl --bench interpreter

bench-policy:
	$(CARGO) bench -p dayone-core --bench policy

bench-ledger:
	scripts/with-moto.sh $(CARGO) bench -p dayone-ledger --bench ledger

bench-connectors:
	$(CARGO) bench -p dayone-connectors --bench clients

bench-flow:
	$(CARGO) bench -p dayone-cli --bench flow

## Deploy with SAM (interactive the first time).
deploy-sam:
	cd infra/sam && sam build --beta-features && sam deploy --guided

## Deploy with CDK (uses the binaries from `make build`).
deploy-cdk: build
	cd infra/cdk && npm ci && npx cdk deploy
