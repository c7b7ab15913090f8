package lambdaemu_test

import (
	"context"
	"fmt"
	"log"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/local/lambdaemu"
)

// An end-to-end test builds a function, starts it as Lambda would, and
// invokes it with a fixture event.
func Example() {
	var t testing.TB // the test's *testing.T
	path := lambdaemu.Build(t, "github.com/llmgw/apitokens/functions/list")

	f, err := lambdaemu.Start(context.Background(), lambdaemu.Options{
		Path:    path,
		Env:     map[string]string{"TOKEN_TABLE_NAME": "test-table"},
		Timeout: 10 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()

	r, err := f.Invoke(context.Background(), []byte(`{"httpMethod":"GET","path":"/api-tokens/"}`))
	if err != nil {
		log.Fatal(err) // the binary did not start or died; err ends with its last output
	}
	if r.Err != nil {
		log.Fatalf("function error %s: %s", r.Err.Type, r.Err.Message)
	}
	fmt.Printf("answered %s in %v; cold start %v\n", r.RequestID, r.Duration, time.Since(f.StartedAt()))
}
