// Command create is the Lambda function behind POST /api-tokens and POST /api-tokens/{username}.
// The rules live in pkg/tokensvc; this only wires configuration to them.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/llmgw/apitokens/pkg/routes"
	"github.com/llmgw/apitokens/pkg/tokenapi"
	"github.com/llmgw/apitokens/pkg/wire"
)

func main() {
	lambda.Start(wire.TokenFunction(routes.FnCreate, tokenapi.Create))
}
