// Command authorizer is the API Gateway Lambda REQUEST authorizer: it turns
// a JWT or an API token into a principal, or refuses.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/llmgw/apitokens/pkg/authorizer"
	"github.com/llmgw/apitokens/pkg/wire"
)

func main() {
	logger, _, a := wire.Start(context.Background(), "authorizer", wire.FreshReads)
	lambda.Start(authorizer.New(a, logger))
}
