// Command serve runs the serve path (/v2/serve/*): it authorizes every
// call with the shared decision core, enforces model permissions and
// forwards to the OpenAI-compatible upstream. One binary runs either way:
// as the ALB's Lambda target when the Lambda runtime started it
// (AWS_LAMBDA_RUNTIME_API is set), answers buffered within the ALB's 1 MB
// limits; otherwise as an HTTP server on PORT (a container), streaming
// answers as they arrive. It only wires: configuration, authenticator,
// upstream key, usage store, handler, and the server or the Lambda runtime.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/llmgw/apitokens/pkg/wire"
)

// envLambdaRuntimeAPI is set by the Lambda runtime, and only there.
const envLambdaRuntimeAPI = "AWS_LAMBDA_RUNTIME_API"

func main() {
	ctx := context.Background()
	logger, cfg, authn := wire.Start(ctx, "serve", wire.CachedReads)
	key, err := upstreamKey(ctx, cfg, secretsManager)
	if err != nil {
		wire.Fatal(logger, "serve: startup failed: upstream key", err)
	}
	store, err := openUsage(ctx, cfg)
	if err != nil {
		wire.Fatal(logger, "serve: startup failed: usage store", err)
	}
	if os.Getenv(envLambdaRuntimeAPI) != "" {
		h, err := newHandler(cfg, authn, key, store, logger)
		if err != nil {
			wire.Fatal(logger, "serve: startup failed: handler", err)
		}
		lambda.Start(h)
		return
	}
	srv, err := newServer(cfg, authn, key, store, logger)
	if err != nil {
		wire.Fatal(logger, "serve: startup failed: handler", err)
	}
	sigCtx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := srv.run(sigCtx, nil); err != nil {
		wire.Fatal(logger, "serve: server failed", err)
	}
}
