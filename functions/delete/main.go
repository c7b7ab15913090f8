// Command delete is the Lambda function behind DELETE /api-tokens/{tokenUUID}.
// The rules live in pkg/tokensvc; this only wires configuration to them.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/llmgw/apitokens/pkg/routes"
	"github.com/llmgw/apitokens/pkg/tokenapi"
	"github.com/llmgw/apitokens/pkg/wire"
)

func main() {
	lambda.Start(wire.TokenFunction(routes.FnDelete, tokenapi.Delete))
}
