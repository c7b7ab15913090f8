// Command localstack runs the whole token system on this machine (`make
// run`): DynamoDB Local, the local API Gateway and ALB, a development OIDC
// issuer and a development model upstream. It stays in the foreground and
// stops everything it started on Ctrl-C (SIGINT) or SIGTERM.
//
// Being stopped is how it is meant to end, so a clean stop exits 0, also
// when the signal arrives during startup; it exits 1 only when startup or
// the shutdown itself fails. A second signal during the shutdown ends it at
// once (on Linux DynamoDB Local is killed with it).
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
		if ctx.Err() != nil {
			// Interrupted while starting: Start has already stopped what
			// it had started.
			fmt.Println("\n==> stopped before the stack was ready")
			return
		}
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	fmt.Print(localstack.QuickStart(s))
	<-ctx.Done()
	stop() // from now on a second Ctrl-C ends the program at once
	fmt.Println("\n==> stopping (Ctrl-C again to quit at once)")
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "error while stopping:", err)
		os.Exit(1)
	}
	fmt.Println("==> stopped")
}
