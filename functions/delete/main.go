// Command delete is the Lambda function behind DELETE /api-tokens/{tokenUUID}
// and DELETE /api-tokens/?username= (every token of a user).
// The rules live in pkg/tokensvc; this only wires configuration to them.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/llmgw/apitokens/pkg/apigw"
	"github.com/llmgw/apitokens/pkg/routes"
)

func main() {
	lambda.Start(apigw.Function(routes.FnDelete))
}
