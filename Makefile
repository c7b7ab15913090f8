# API tokens for LLM gateways on AWS.
#   make run    - the whole system on this machine (DynamoDB Local, gateway, dev OIDC issuer)
#   make test   - every test tier: lint, unit, DynamoDB Local, end to end, fuzz, CDK
#   make deploy - build the Lambdas and deploy with the CDK (config-custom.yaml)
#   make help   - all targets

SHELL       := /bin/bash
GO          ?= go
BUILD_DIR   ?= build
GOARCH_LAMBDA ?= arm64
STATICCHECK := $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUNCTIONS   := create list get delete settings update rotate events usage serve
LAMBDAS     := $(FUNCTIONS) authorizer
FUZZTIME    ?= 10s

# CDK CLI and synth settings (infra/).
CDK_CLI_VERSION ?= 2.1148.1
CDK         ?= npx --yes aws-cdk@$(CDK_CLI_VERSION)
CDK_OUT     ?= cdk.out
CFN_LINT    ?= cfn-lint
CONFIG_FILE ?= config-custom.yaml
# Extra flags for `cdk deploy`, e.g. DEPLOY_FLAGS=--require-approval=never
DEPLOY_FLAGS ?=

# The jsii runtime (node) behind the CDK Go packages starts before any Go
# code can set this, so it is exported for every recipe, `go test` included.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

# Synth needs no credentials and no network beyond the registries: no
# instance-metadata probing, no telemetry, no notices.
CDK_ENV   = CONFIG_FILE=$(CONFIG_FILE) APITOKENS_BUILD_DIR=$(BUILD_DIR) \
	AWS_EC2_METADATA_DISABLED=true CDK_DISABLE_CLI_TELEMETRY=true
CDK_FLAGS = --no-notices --output $(CDK_OUT)

.DEFAULT_GOAL := help
.PHONY: help deps build web test-web lint test test-go test-infra fuzz run clean \
	synth diff deploy cfn-lint cdk-bootstrap cdk-destroy

# The variables the `## ` texts name, e.g. $(BUILD_DIR): help shows their
# values (they reach awk through its environment).
HELP_LINES = grep -hE '^[a-zA-Z_-]+:.*\#\# ' $(MAKEFILE_LIST)
HELP_VARS  = $(sort $(shell $(HELP_LINES) | grep -oE '\$$\([A-Za-z_]+\)' | tr -d '$$()'))

help: ## list targets
	@$(HELP_LINES) | $(foreach v,$(HELP_VARS),$(v)='$($(v))') awk -F':.*## ' '{ \
		d = $$2; out = ""; \
		while (match(d, /\$$\([A-Za-z_]+\)/)) { \
			out = out substr(d, 1, RSTART - 1) ENVIRON[substr(d, RSTART + 2, RLENGTH - 3)]; \
			d = substr(d, RSTART + RLENGTH); \
		} \
		printf "  make %-14s %s\n", $$1, out d }'

deps: ## install what the tests and the local stack need (Java 17, Node/npm, AWS CLI, jq, Go modules)
	@command -v java >/dev/null 2>&1 && java -version 2>&1 | grep -qE 'version "(1[7-9]|2[0-9])' || { \
		echo "==> installing Java 17 (openjdk-17-jre-headless)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }
	@command -v npm >/dev/null 2>&1 || { \
		echo "==> installing Node.js and npm"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	@command -v aws >/dev/null 2>&1 || { \
		echo "==> installing the AWS CLI (the end-to-end test of hand-inserted legacy tokens uses it)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq awscli >/dev/null; }
	@command -v jq >/dev/null 2>&1 || { \
		echo "==> installing jq (used by the quick start)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null; }
	@command -v chromium >/dev/null 2>&1 || { \
		echo "==> installing Chromium (the console's browser tests drive it)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@command -v $(CFN_LINT) >/dev/null 2>&1 || echo "warning: cfn-lint not found; make test-infra needs it (pip install cfn-lint)"
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

test-go: web ## Go tests against DynamoDB Local (started by the tests) and the console's browser tests; the CDK tests run in test-infra
	@echo "==> go test (DynamoDB Local is installed and started by the tests)"
	REQUIRE_DYNAMODB_LOCAL=1 REQUIRE_BROWSER=1 REQUIRE_LIFECYCLE=1 REQUIRE_USAGE=1 $(GO) test -count=1 -timeout 30m $$($(GO) list ./... | grep -v '/infra')

fuzz: ## short fuzz runs of the decision core, the JWT verifier, the serve path's model check and token classification
	@echo "==> fuzz ($(FUZZTIME) each)"
	$(GO) test -run '^$$' -fuzz '^FuzzAuthenticate$$' -fuzztime $(FUZZTIME) ./pkg/auth
	$(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME) ./pkg/oidc
	$(GO) test -run '^$$' -fuzz '^FuzzModelCheck$$' -fuzztime $(FUZZTIME) ./pkg/serve
	$(GO) test -run '^$$' -fuzz '^FuzzClassify$$' -fuzztime $(FUZZTIME) ./pkg/secret

# Built, then run, rather than `go run`: go run answers Ctrl-C with exit
# status 1 even when the program stopped cleanly, and make would report that
# as an error. The program itself exits 0 after a clean stop, so make has
# nothing to report.
# The console (web/): npm ci when its lock file changed, a build when any of
# its files did. Vite writes to build/web (web/vite.config.ts).
WEB_FILES := $(shell find web -path web/node_modules -prune -o -type f -print 2>/dev/null)

web/node_modules/.package-lock.json: web/package-lock.json
	@echo "==> npm ci (web/)"
	@cd web && npm ci --no-audit --no-fund --loglevel=error

build/web/index.html: web/node_modules/.package-lock.json $(WEB_FILES)
	@echo "==> build the console into build/web"
	@cd web && npm run --silent build

web: build/web/index.html ## build the console into build/web (installs its npm packages on first use)

test-web: web/node_modules/.package-lock.json ## the console's type check and unit tests (Vitest)
	@echo "==> console: type check and unit tests"
	@cd web && npm run --silent typecheck && npm test --silent

run: deps web ## run the whole system locally (Ctrl-C stops it)
	@$(GO) build -o $(BUILD_DIR)/local/localstack ./pkg/local/localstack/cmd/localstack
	@exec $(BUILD_DIR)/local/localstack

# CI has no config-custom.yaml: the shipped example is what gets synthesized.
# Nor a console build: APITOKENS_WEB_PLACEHOLDER=1 synthesizes a placeholder
# page in its place (outside $(BUILD_DIR), so `make deploy` never ships it).
test-infra: CONFIG_FILE = config-custom.example.yaml
test-infra: CDK_ENV += APITOKENS_WEB_PLACEHOLDER=1
test-infra: build ## CDK assertions + cdk-nag, then synth and cfn-lint of config-custom.example.yaml
	@echo "==> CDK tests (the first CDK build takes about a minute)"
	$(GO) test -count=1 ./infra/...
	@echo "==> cdk synth (config-custom.example.yaml) and cfn-lint"
	rm -rf $(CDK_OUT)
	$(CDK_ENV) $(CDK) synth $(CDK_FLAGS) --quiet
	$(CFN_LINT) --ignore-checks W3005 -- $(CDK_OUT)/*.template.json

test: deps lint build web test-web test-go fuzz test-infra ## everything CI runs

# cdk.out/ is only a cache; starting afresh keeps stale templates from being linted.
synth: build ## synthesize $(CDK_OUT)/ from $(CONFIG_FILE) (no AWS credentials needed)
	rm -rf $(CDK_OUT)
	$(CDK_ENV) $(CDK) synth $(CDK_FLAGS) --quiet
	@echo "synthesized $(CDK_OUT)/ from $(CONFIG_FILE)"

diff: build ## show what `make deploy` would change (AWS credentials needed)
	$(CDK_ENV) $(CDK) diff $(CDK_FLAGS)

deploy: build ## deploy the stack (AWS credentials; `make cdk-bootstrap` once per account and region)
	$(CDK_ENV) $(CDK) deploy $(CDK_FLAGS) $(DEPLOY_FLAGS)

cfn-lint: synth ## lint the synthesized template
	$(CFN_LINT) --ignore-checks W3005 -- $(CDK_OUT)/*.template.json

cdk-bootstrap: build ## prepare an AWS account and region for CDK deployments
	$(CDK_ENV) $(CDK) bootstrap $(CDK_FLAGS)

cdk-destroy: build ## delete the stack (retained resources stay)
	$(CDK_ENV) $(CDK) destroy $(CDK_FLAGS)

# make bench: figures, not pass/fail; the recipe lives beside the benchmarks.
include pkg/local/bench/bench.mk

clean: ## remove build output
	rm -rf $(BUILD_DIR) cdk.out
