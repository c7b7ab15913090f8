package dynamotest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/llmgw/apitokens/pkg/schema"
	"github.com/llmgw/apitokens/pkg/secret"
	"github.com/llmgw/apitokens/pkg/store"
	"github.com/llmgw/apitokens/pkg/store/dynamostore/internal/item"
)

// batchWriter is implemented by *dynamodb.Client. It is not part of API
// because only PutBatch, a test-support method, needs it.
type batchWriter interface {
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// PutBatch writes toks, and a guard item for each non-system token, with
// BatchWriteItem: 25 items a request, no conditions. It is test support
// (storetest.BulkCreator: filling a table with thousands of tokens in
// seconds rather than one transaction each) and for benchmark fixtures. It
// enforces nothing: the caller must pass distinct hashes and UUIDs and at
// most one non-system token per user, none of them already in the table.
// Nothing is rolled back on failure.
func (s *Store) PutBatch(ctx context.Context, toks []store.Token) error {
	var reqs []types.WriteRequest
	for _, t := range toks {
		if err := store.Storable(t); err != nil {
			return fmt.Errorf("dynamotest: put batch: %w", err)
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item.Encode(t)}})
		if !t.IsSystem {
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item.Guard(t.Username, t.UUID, t.Hash)}})
		}
	}
	bw, ok := s.api.(batchWriter)
	if !ok {
		// A wrapped client without BatchWriteItem: one PutItem each.
		for _, r := range reqs {
			if _, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: r.PutRequest.Item}); err != nil {
				return fmt.Errorf("dynamotest: put batch: %w", err)
			}
		}
		return nil
	}
	// A few requests in flight: DynamoDB Local spends most of a request
	// waiting, and four keep a two-core machine busy without flooding it.
	chunks := make(chan []types.WriteRequest)
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for chunk := range chunks {
				if err := s.writeChunk(ctx, bw, chunk); err != nil {
					errs <- err
					for range chunks { // drain so the sender finishes
					}
					return
				}
			}
		}()
	}
	for len(reqs) > 0 {
		n := min(len(reqs), 25) // the BatchWriteItem maximum
		chunks <- reqs[:n]
		reqs = reqs[n:]
	}
	close(chunks)
	wg.Wait()
	close(errs)
	return <-errs // nil if none
}

// writeChunk writes up to 25 items, retrying what DynamoDB leaves
// unprocessed (throttling) with a growing delay.
func (s *Store) writeChunk(ctx context.Context, bw batchWriter, chunk []types.WriteRequest) error {
	for attempt := 0; len(chunk) > 0; attempt++ {
		if attempt == 10 {
			return errors.New("dynamotest: put batch: items left unprocessed after 10 attempts")
		}
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("dynamotest: put batch: %w", ctx.Err())
			case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
			}
		}
		out, err := bw.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{s.table: chunk},
		})
		if err != nil {
			return fmt.Errorf("dynamotest: put batch: %w", err)
		}
		chunk = out.UnprocessedItems[s.table]
	}
	return nil
}

// PutLegacy writes a legacy item exactly as an admin's
// `aws dynamodb put-item` of a plain-text token does: {"token": value} plus "tokenExpiration" when expiration is not 0.
// It is test support (storetest.LegacyInserter, end-to-end fixtures), not
// part of the store contract. Unlike the CLI it refuses to overwrite an
// existing item (ErrExists) or to write a reserved key.
func (s *Store) PutLegacy(ctx context.Context, value string, expiration int64) error {
	if value == "" || schema.IsReservedKey(value) {
		return errors.New("dynamotest: put legacy: value is empty or a reserved key")
	}
	it := map[string]types.AttributeValue{schema.AttrToken: item.S(value)}
	if expiration != 0 {
		it[schema.AttrTokenExpiration] = item.N(expiration)
	}
	_, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     it,
		ConditionExpression:      aws.String("attribute_not_exists(" + "#tk" + ")"),
		ExpressionAttributeNames: map[string]string{"#tk": schema.AttrToken},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("dynamotest: put legacy %s: %w", secret.LegacyID(value), store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("dynamotest: put legacy %s: %w", secret.LegacyID(value), err)
	}
	return nil
}
