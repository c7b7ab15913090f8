package dynamostore

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/llmgw/apitokens/pkg/schema"
	"github.com/llmgw/apitokens/pkg/store/dynamostore/internal/item"
	"github.com/llmgw/apitokens/pkg/store/internal/cursorseal"
)

// The cursor key seals List cursors. Every Lambda instance must use the same
// key, and it must survive restarts, so it lives in the token table itself:
// the item schema.CursorKeyItem holds it as AttrCursorKey (B, 32 bytes).
// That key is reserved (schema.IsReservedKey) and never a token; the item has
// neither username nor tokenUUID, so it is in no index.
//
// Loading, at the first List of a process that issues or reads a cursor: one
// strongly consistent GetItem; if the item is absent, a PutItem of a new
// random key with attribute_not_exists(token); if that condition fails,
// another instance won the race, and its key is read back (strongly
// consistent). So any number of instances starting together agree on one
// key. The key is then cached for the life of the Store.
//
// Deleting the item only invalidates outstanding cursors (clients start
// their listing again): the next process to need a key makes a new one.
// Processes that loaded the old key keep it until they restart.
//
// A failure to read or write the item is an infrastructure error, never
// store.ErrBadCursor: a cursor is not judged without the key.

// cursorSealer returns the Store's cursor sealer, loading the key on first
// use. A failed load is not cached; the next call tries again.
func (s *Store) cursorSealer(ctx context.Context) (*cursorseal.Sealer, error) {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if s.sealer != nil {
		return s.sealer, nil
	}
	key, err := s.loadCursorKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("cursor key: %w", err)
	}
	sealer, err := cursorseal.New(key)
	if err != nil {
		return nil, fmt.Errorf("cursor key: %w", err)
	}
	s.sealer = sealer
	return sealer, nil
}

func (s *Store) loadCursorKey(ctx context.Context) ([]byte, error) {
	if key, err := s.readCursorKey(ctx); err != nil || key != nil {
		return key, err
	}
	key := cursorseal.NewKey()
	_, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item: map[string]types.AttributeValue{
			schema.AttrToken:     item.S(schema.CursorKeyItem),
			schema.AttrCursorKey: &types.AttributeValueMemberB{Value: key},
		},
		ConditionExpression:      aws.String("attribute_not_exists(" + phToken + ")"),
		ExpressionAttributeNames: map[string]string{phToken: schema.AttrToken},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		// Made meanwhile by another instance (or by this PutItem, if the
		// SDK retried it after a lost response): use what is stored.
		key, err := s.readCursorKey(ctx)
		if err == nil && key == nil {
			err = errors.New("the key item was deleted while it was being created")
		}
		return key, err
	}
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	return key, nil
}

// readCursorKey reads the key item with strong consistency: nil if absent,
// an error if it does not hold a key of the right size (delete it to make a
// new one).
func (s *Store) readCursorKey(ctx context.Context) ([]byte, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            map[string]types.AttributeValue{schema.AttrToken: item.S(schema.CursorKeyItem)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	b, ok := out.Item[schema.AttrCursorKey].(*types.AttributeValueMemberB)
	if !ok || len(b.Value) != cursorseal.KeySize {
		return nil, fmt.Errorf("item %s has no %d-byte %s; delete it to make a new key", schema.CursorKeyItem, cursorseal.KeySize, schema.AttrCursorKey)
	}
	return b.Value, nil
}
