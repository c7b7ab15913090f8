// Command usage is the Lambda function behind GET /api-tokens/{tokenUUID}/usage
// and GET /api-token-usage. The rules live in pkg/tokensvc; this only
// wires configuration to them.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/llmgw/apitokens/pkg/apigw"
	"github.com/llmgw/apitokens/pkg/routes"
)

func main() {
	lambda.Start(apigw.Function(routes.FnUsage))
}
