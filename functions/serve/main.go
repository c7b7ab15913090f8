// Command serve is the Lambda target of the ALB for /v2/serve/*: it
// authorizes every call with the shared decision core, enforces model
// permissions and forwards to the OpenAI-compatible upstream. It only
// wires: configuration, authenticator, upstream key, handler.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/llmgw/apitokens/pkg/wire"
)

func main() {
	ctx := context.Background()
	logger, cfg, authn := wire.Start(ctx, "serve", wire.CachedReads)
	key, err := upstreamKey(ctx, cfg, secretsManager)
	if err != nil {
		wire.Fatal(logger, "serve: startup failed: upstream key", err)
	}
	h, err := newHandler(cfg, authn, key, logger)
	if err != nil {
		wire.Fatal(logger, "serve: startup failed: handler", err)
	}
	lambda.Start(h)
}
