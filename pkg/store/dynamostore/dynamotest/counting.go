package dynamotest

import (
	"context"
	"errors"
	"maps"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/llmgw/apitokens/pkg/store/dynamostore"
)

// Counting is a dynamostore.API that counts the calls it passes on, by operation name
// ("GetItem", "Query", "Scan", ...). Tests use it to prove read patterns
// (a cached authorization makes no GetItem; GetByUUID never scans), and the
// local stack exposes it for the same checks end to end.
type Counting struct {
	dynamostore.API
	mu     sync.Mutex
	counts map[string]int
}

var _ dynamostore.API = (*Counting)(nil)

// NewCounting wraps api.
func NewCounting(api dynamostore.API) *Counting { return &Counting{API: api, counts: map[string]int{}} }

// Counts returns a snapshot of the calls so far.
func (c *Counting) Counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts)
}

func (c *Counting) count(op string) {
	c.mu.Lock()
	c.counts[op]++
	c.mu.Unlock()
}

// GetItem counts and forwards.
func (c *Counting) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.count("GetItem")
	return c.API.GetItem(ctx, in, optFns...)
}

// PutItem counts and forwards.
func (c *Counting) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.count("PutItem")
	return c.API.PutItem(ctx, in, optFns...)
}

// DeleteItem counts and forwards.
func (c *Counting) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.count("DeleteItem")
	return c.API.DeleteItem(ctx, in, optFns...)
}

// Query counts and forwards.
func (c *Counting) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.count("Query")
	return c.API.Query(ctx, in, optFns...)
}

// Scan counts and forwards.
func (c *Counting) Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	c.count("Scan")
	return c.API.Scan(ctx, in, optFns...)
}

// TransactWriteItems counts and forwards.
func (c *Counting) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.count("TransactWriteItems")
	return c.API.TransactWriteItems(ctx, in, optFns...)
}

// UpdateItem counts and forwards.
func (c *Counting) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.count("UpdateItem")
	return c.API.UpdateItem(ctx, in, optFns...)
}

// BatchWriteItem counts and forwards, so that PutBatch stays batched
// through a Counting. It fails if the wrapped dynamostore.API cannot batch.
func (c *Counting) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	c.count("BatchWriteItem")
	bw, ok := c.API.(batchWriter)
	if !ok {
		return nil, errors.New("dynamostore: the wrapped dynamostore.API has no BatchWriteItem")
	}
	return bw.BatchWriteItem(ctx, in, optFns...)
}
