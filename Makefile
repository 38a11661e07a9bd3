# Makefile of the identity provider. `make help` lists the targets; a target
# is documented by a "## " comment on its line.

SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help

GO ?= go

# The real services the tests run against; override from the environment.
IDP_TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
IDP_TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
# The Redis Cluster and Sentinel setup that scripts/redis-ha.sh starts.
IDP_TEST_REDIS_CLUSTER_URL ?= redis+cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002
IDP_TEST_REDIS_SENTINEL_URL ?= redis+sentinel://127.0.0.1:26379,127.0.0.1:26380,127.0.0.1:26381/idpmaster/0
export IDP_TEST_DATABASE_URL IDP_TEST_REDIS_URL IDP_TEST_REDIS_CLUSTER_URL IDP_TEST_REDIS_SENTINEL_URL

# The race detector is kept (the end-to-end tests build the server with it
# too); -p 2 keeps two test binaries at a time, which is what two cores
# carry under -race. Tests run in a random order (a failing package's output
# starts with the seed: -shuffle=SEED repeats it), and
# a test binary that runs longer than -timeout fails with its goroutines.
TEST_FLAGS ?= -race -count=1 -p 2 -shuffle=on -timeout=10m

# How long `make fuzz` runs each fuzz target. Minimizing new inputs is off:
# in a few seconds it would take the time from fuzzing.
FUZZTIME ?= 3s
FUZZ_FLAGS ?= -fuzzminimizetime=0

.PHONY: help run demo test fuzz bench chaos build image manifests lint vet fmt-check services chromium clean

help: ## List the targets
	@echo "Targets:"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: ## Start the provider (dev mode, in memory) on :8080 and the catalog portal on :8081; Ctrl-C stops both
	@GO=$(GO) ./scripts/run.sh

demo: run ## Alias of run

test: services chromium axe lint ## Start PostgreSQL/Redis, install chromium, lint, run every test with -race, then every fuzz target
	$(GO) test $(TEST_FLAGS) ./...
	@$(MAKE) --no-print-directory fuzz

fuzz: ## Run every fuzz target (func FuzzXxx in a _test.go file) alone for FUZZTIME (3s)
	@GO=$(GO) FUZZTIME=$(FUZZTIME) FUZZ_FLAGS='$(FUZZ_FLAGS)' ./scripts/fuzz.sh

bench: services ## Run the load benchmark (cmd/idpbench) and the Go benchmarks
	$(GO) run ./cmd/idpbench
	$(GO) test -run '^$$' -bench . -benchmem ./...

chaos: ## Run the faults under load (cmd/idpchaos): replica kill, rolling restart, Redis and PostgreSQL restarts, Sentinel failover; print the figures
	$(GO) run ./cmd/idpchaos $(CHAOS_FLAGS)

build: ## Build the commands into bin/
	$(GO) build -o bin/ ./cmd/...

# The container image: its name, and the version stamped into `idp version`
# and the image's tag.
IMAGE ?= esia-oidc/idp
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# Reproducible layers: the time of the last commit.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
export SOURCE_DATE_EPOCH

image: ## Build the container image (static idp + catalog, non-root, no shell) into bin/image/ without a Docker daemon
	rm -rf bin/image && mkdir -p bin/image/rootfs
	CGO_ENABLED=0 GOOS=linux $(GO) build -trimpath -ldflags '-s -w -X main.version=$(VERSION)' -o bin/image/rootfs/ ./cmd/idp ./cmd/catalog
	$(GO) run ./deploy/image -bin bin/image/rootfs -tag $(IMAGE):$(VERSION) -tarball bin/image/idp-image.tar -oci bin/image/oci

manifests: ## Print the Kubernetes manifests rendered by kustomize (OVERLAY=dev|prod, default prod)
	@$(GO) run ./deploy/render $(or $(OVERLAY),prod)

lint: vet fmt-check ## Run go vet and check gofmt formatting

vet: ## Run go vet
	$(GO) vet ./...

fmt-check: ## Fail listing the files gofmt would change
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt needed on:"; echo "$$unformatted"; exit 1; \
	fi

services: ## Make sure PostgreSQL (127.0.0.1:5432), Redis (127.0.0.1:6379) and the Redis Cluster and Sentinel of scripts/redis-ha.sh run
	@./scripts/services.sh

chromium: ## Install chromium for the browser tests if missing
	@./scripts/chromium.sh

axe: ## Fetch axe-core (the accessibility checks of the browser tests) into .cache/axe if missing
	@./scripts/axe.sh

clean: ## Remove build output
	rm -rf bin/
