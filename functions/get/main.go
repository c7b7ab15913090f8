// Command get is the Lambda function behind the get route(s) of the token
// API. It only wires: configuration, store, service, handler.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/llmgw/apitokens/pkg/httpapi"
	"github.com/llmgw/apitokens/pkg/tokenapi"
	"github.com/llmgw/apitokens/pkg/wire"
)

func main() {
	ctx := context.Background()
	logger := wire.Logger(os.Getenv)
	svc, err := wire.TokenService(ctx, os.Getenv, logger)
	if err != nil {
		wire.Fatal(logger, "get: startup failed", err)
	}
	lambda.Start(httpapi.Adapt(tokenapi.Get(svc), logger))
}
