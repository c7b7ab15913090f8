package dynamostore

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// RequestTimeout bounds each DynamoDB request the store makes, the SDK's
// retries included. A table that cannot be reached (throttled, partitioned
// away, or a frozen DynamoDB Local) so costs a caller at most this long per
// request before the store reports an error, which the callers turn into
// a refusal to proceed (503, or 500 from the authorizer): never a hang, and
// never an Allow. Real DynamoDB answers in milliseconds.
const RequestTimeout = 3 * time.Second

// bounded is an API whose every call carries a deadline of at most d.
type bounded struct {
	API
	d time.Duration
}

func (b bounded) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, b.d)
}

func (b bounded) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	ctx, cancel := b.ctx(ctx)
	defer cancel()
	return b.API.GetItem(ctx, in, optFns...)
}

func (b bounded) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	ctx, cancel := b.ctx(ctx)
	defer cancel()
	return b.API.PutItem(ctx, in, optFns...)
}

func (b bounded) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	ctx, cancel := b.ctx(ctx)
	defer cancel()
	return b.API.DeleteItem(ctx, in, optFns...)
}

func (b bounded) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	ctx, cancel := b.ctx(ctx)
	defer cancel()
	return b.API.Query(ctx, in, optFns...)
}

func (b bounded) Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	ctx, cancel := b.ctx(ctx)
	defer cancel()
	return b.API.Scan(ctx, in, optFns...)
}

func (b bounded) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	ctx, cancel := b.ctx(ctx)
	defer cancel()
	return b.API.TransactWriteItems(ctx, in, optFns...)
}

func (b bounded) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	ctx, cancel := b.ctx(ctx)
	defer cancel()
	return b.API.UpdateItem(ctx, in, optFns...)
}
