package dynamostore

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Counting wraps an API and counts calls by operation name ("GetItem",
// "Query", ...). Tests and benchmarks use it to show how many DynamoDB
// requests an operation costs, e.g. exactly one GetItem per authorization.
type Counting struct {
	API
	mu     sync.Mutex
	counts map[string]int
}

var _ API = (*Counting)(nil)

// NewCounting wraps api.
func NewCounting(api API) *Counting { return &Counting{API: api, counts: map[string]int{}} }

func (c *Counting) add(op string) {
	c.mu.Lock()
	c.counts[op]++
	c.mu.Unlock()
}

// Counts returns a copy of the counts so far.
func (c *Counting) Counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

// GetItem counts and forwards.
func (c *Counting) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.add("GetItem")
	return c.API.GetItem(ctx, in, o...)
}

// PutItem counts and forwards.
func (c *Counting) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.add("PutItem")
	return c.API.PutItem(ctx, in, o...)
}

// DeleteItem counts and forwards.
func (c *Counting) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.add("DeleteItem")
	return c.API.DeleteItem(ctx, in, o...)
}

// Query counts and forwards.
func (c *Counting) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.add("Query")
	return c.API.Query(ctx, in, o...)
}

// Scan counts and forwards.
func (c *Counting) Scan(ctx context.Context, in *dynamodb.ScanInput, o ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	c.add("Scan")
	return c.API.Scan(ctx, in, o...)
}

// TransactWriteItems counts and forwards.
func (c *Counting) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.add("TransactWriteItems")
	return c.API.TransactWriteItems(ctx, in, o...)
}
