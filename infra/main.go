// Command infra is the CDK app that deploys the API token system: the
// DynamoDB token and audit tables, ApiTokensApiRole and the function roles,
// the Lambda functions built by `make build`, the REST API with its REQUEST
// authorizer, and the ALB wiring for /v2/serve/*. cdk.json runs it as `go run ./infra`.
//
// It reads config-custom.yaml (CONFIG_FILE overrides the path) and the
// function binaries from build/<function>/bootstrap (APITOKENS_BUILD_DIR
// overrides the directory). Synth needs no AWS credentials unless the
// configuration asks for a VPC lookup.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// Environment variables read by the app itself.
const (
	EnvConfigFile = "CONFIG_FILE"
	EnvBuildDir   = "APITOKENS_BUILD_DIR"
)

func main() {
	err := run()
	jsii.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := LoadConfig(envOr(EnvConfigFile, ConfigFileName))
	if err != nil {
		return err
	}
	buildDir := envOr(EnvBuildDir, "build")
	if err := CheckBuildDir(buildDir); err != nil {
		return err
	}
	if cfg.Console.On() {
		if _, _, err := ConsoleWebDir(buildDir); err != nil {
			return err
		}
	}
	app := awscdk.NewApp(nil)
	AddChecks(app, true)
	BuildStack(app, cfg, buildDir)
	app.Synth(nil)
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
