# Makefile of the identity provider. `make help` lists the targets; a target
# is documented by a "## " comment on its line.

SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help

GO ?= go

# The real services the tests run against; override from the environment.
IDP_TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
IDP_TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
export IDP_TEST_DATABASE_URL IDP_TEST_REDIS_URL

# The race detector is kept; -p 2 keeps two test binaries at a time, which
# is what two cores carry under -race.
TEST_FLAGS ?= -race -count=1 -p 2

.PHONY: help run test bench build lint vet fmt-check services chromium clean

help: ## List the targets
	@echo "Targets:"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: ## Start the provider in development mode on http://127.0.0.1:8080 (in-memory)
	$(GO) run ./cmd/idp serve --dev

test: services chromium lint ## Start PostgreSQL/Redis, install chromium, lint, run every test with -race
	$(GO) test $(TEST_FLAGS) ./...

bench: services ## Run the load benchmark (cmd/idpbench) and the Go benchmarks
	$(GO) run ./cmd/idpbench
	$(GO) test -run '^$$' -bench . -benchmem ./...

build: ## Build the commands into bin/
	$(GO) build -o bin/ ./cmd/...

lint: vet fmt-check ## Run go vet and check gofmt formatting

vet: ## Run go vet
	$(GO) vet ./...

fmt-check: ## Fail listing the files gofmt would change
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt needed on:"; echo "$$unformatted"; exit 1; \
	fi

services: ## Make sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) run
	@./scripts/services.sh

chromium: ## Install chromium for the browser tests if missing
	@./scripts/chromium.sh

clean: ## Remove build output
	rm -rf bin/
