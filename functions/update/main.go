// Command update is the Lambda function behind PATCH /api-tokens/{tokenUUID}.
// The rules live in pkg/tokensvc; this only wires configuration to them.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/llmgw/apitokens/pkg/apigw"
	"github.com/llmgw/apitokens/pkg/routes"
)

func main() {
	lambda.Start(apigw.Function(routes.FnUpdate))
}
