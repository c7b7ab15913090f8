// Package stacktest starts local stacks for tests and benchmarks, as
// httptest starts servers; it keeps the testing package out of the stack
// that make run starts.
package stacktest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/local/dynamolocal/dltest"
	"github.com/llmgw/apitokens/pkg/local/localstack"
)

// Start starts a stack for a test or benchmark on a free loopback
// port, against the test binary's shared DynamoDB Local (dltest), with a
// deployment name (and so a table) of its own whose name starts with
// prefix; env overrides its environment. The caller closes it (tests
// usually in t.Cleanup).
func Start(tb testing.TB, prefix string, env map[string]string) *localstack.Stack {
	tb.Helper()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	vars := map[string]string{
		localstack.EnvLocalAddr:      "127.0.0.1:0",
		localstack.EnvDeploymentName: prefix + "-" + hex.EncodeToString(rnd[:]),
		config.EnvDynamoDBEndpoint:   dltest.Endpoint(tb),
	}
	for k, v := range env {
		vars[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := localstack.Start(ctx, localstack.Options{Getenv: func(k string) string { return vars[k] }})
	if err != nil {
		tb.Fatalf("start local stack: %v", err)
	}
	return s
}
