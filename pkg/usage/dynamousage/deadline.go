package dynamousage

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// RequestTimeout bounds each DynamoDB request the store makes, the SDK's
// retries included, as dynamostore.RequestTimeout does for the token
// table: a usage table that cannot be reached costs a serve call at most
// this long before Admit reports an error (503, or a logged pass with
// LIMITS_FAIL_OPEN), never a hang.
const RequestTimeout = 3 * time.Second

// bounded is an API whose every call carries a deadline of at most d.
type bounded struct {
	API
	d time.Duration
}

func (b bounded) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.API.GetItem(ctx, in, optFns...)
}

func (b bounded) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.API.UpdateItem(ctx, in, optFns...)
}

func (b bounded) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.API.Query(ctx, in, optFns...)
}
