// Command authorizer is the API Gateway Lambda REQUEST authorizer: it turns
// a JWT or an API token into a principal, or refuses.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/llmgw/apitokens/pkg/authorizer"
	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/wire"
)

func main() {
	ctx := context.Background()
	logger := wire.Logger(os.Getenv)
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		wire.Fatal(logger, "authorizer: startup failed: configuration", err)
	}
	a, err := wire.Authenticator(ctx, cfg, wire.FreshReads, logger)
	if err != nil {
		wire.Fatal(logger, "authorizer: startup failed: decision core", err)
	}
	lambda.Start(authorizer.New(a, logger))
}
