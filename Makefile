# API tokens for LLM gateways on AWS.
#   make run    - the whole system on this machine (DynamoDB Local, gateway, dev OIDC issuer)
#   make test   - every test tier: lint, unit, DynamoDB Local, end to end, fuzz, CDK
#   make help   - all targets

SHELL       := /bin/bash
GO          ?= go
BUILD_DIR   ?= build
GOARCH_LAMBDA ?= arm64
STATICCHECK := $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUNCTIONS   := create list get delete serve
LAMBDAS     := $(FUNCTIONS) authorizer
FUZZTIME    ?= 10s

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.DEFAULT_GOAL := help
.PHONY: help deps build lint test test-go fuzz run bench clean

help: ## list targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

deps: ## install what the tests and the local stack need (Java 17, Node/npm, Go modules)
	@command -v java >/dev/null 2>&1 && java -version 2>&1 | grep -qE 'version "(1[7-9]|2[0-9])' || { \
		echo "==> installing Java 17 (openjdk-17-jre-headless)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }
	@command -v npm >/dev/null 2>&1 || { \
		echo "==> installing Node.js and npm"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	@echo "==> downloading Go modules"
	@$(GO) mod download

build: ## build every Lambda as $(BUILD_DIR)/<name>/bootstrap (linux/$(GOARCH_LAMBDA))
	@for fn in $(LAMBDAS); do \
		src=./functions/$$fn; [ $$fn = authorizer ] && src=./authorizer; \
		echo "==> build $(BUILD_DIR)/$$fn/bootstrap"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH_LAMBDA) $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' \
			-o $(BUILD_DIR)/$$fn/bootstrap $$src || exit 1; \
	done

lint: ## gofmt, go vet and staticcheck
	@echo "==> gofmt"; out=$$(gofmt -l .); [ -z "$$out" ] || { echo "not gofmt-ed:"; echo "$$out"; exit 1; }
	@echo "==> go vet"; $(GO) vet ./...
	@echo "==> staticcheck"; $(STATICCHECK) ./...

test-go: ## Go tests of every tier against DynamoDB Local (started by the tests)
	@echo "==> go test (DynamoDB Local is installed and started by the tests)"
	REQUIRE_DYNAMODB_LOCAL=1 $(GO) test -count=1 -timeout 30m ./...

fuzz: ## short fuzz runs of the decision core and the JWT verifier
	@echo "==> fuzz ($(FUZZTIME) each)"
	$(GO) test -run '^$$' -fuzz '^FuzzAuthenticate$$' -fuzztime $(FUZZTIME) ./pkg/auth
	$(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME) ./pkg/oidc

test: deps lint build test-go fuzz ## everything CI runs

clean: ## remove build output
	rm -rf $(BUILD_DIR) cdk.out
