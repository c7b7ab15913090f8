// Command localstack runs the whole token system on this machine (`make
// run`): DynamoDB Local, the local API Gateway and ALB, a development OIDC
// issuer and a development model upstream. It stays in the foreground and
// stops everything it started on Ctrl-C.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/llmgw/apitokens/pkg/local/localstack"
	"github.com/llmgw/apitokens/pkg/wire"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := localstack.Start(ctx, localstack.Options{
		Getenv:   os.Getenv,
		Progress: os.Stdout,
		Logger:   wire.Logger(os.Getenv),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	fmt.Print(localstack.QuickStart(s))
	<-ctx.Done()
	fmt.Println("\n==> stopping")
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "error while stopping:", err)
		os.Exit(1)
	}
}
