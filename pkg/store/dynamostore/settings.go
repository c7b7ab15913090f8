package dynamostore

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/llmgw/apitokens/pkg/schema"
	"github.com/llmgw/apitokens/pkg/store"
	"github.com/llmgw/apitokens/pkg/store/dynamostore/internal/item"
)

// The settings live in the token table under the reserved key
// schema.SettingsItem (like the cursor key): no username or tokenUUID, so
// the item is in no index; scans filter it out by its prefix, GetByHash and
// Delete refuse the key. One strongly consistent GetItem reads it and one
// PutItem replaces it, both actions ApiTokensApiRole already holds.

// GetSettings implements store.Store with one GetItem, ConsistentRead=true.
func (s *Store) GetSettings(ctx context.Context) (store.Settings, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            map[string]types.AttributeValue{schema.AttrToken: item.S(schema.SettingsItem)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return store.Settings{}, fmt.Errorf("dynamostore: get settings: %w", err)
	}
	if len(out.Item) == 0 {
		return store.Settings{}, nil
	}
	st, err := item.DecodeSettings(out.Item)
	if err != nil {
		return store.Settings{}, fmt.Errorf("dynamostore: get settings: %w", err)
	}
	return st, nil
}

// PutSettings implements store.Store with one unconditional PutItem, or
// with audit events one TransactWriteItems of that Put and the events.
func (s *Store) PutSettings(ctx context.Context, st store.Settings, audit ...store.Event) error {
	events, err := s.eventPuts(audit)
	if err != nil {
		return fmt.Errorf("dynamostore: put settings: %w", err)
	}
	if len(events) > 0 {
		if _, err := s.transact(ctx, append([]types.TransactWriteItem{{Put: &types.Put{
			TableName: aws.String(s.table), Item: item.EncodeSettings(st),
		}}}, events...)); err != nil {
			return fmt.Errorf("dynamostore: put settings: %w", err)
		}
		return nil
	}
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item:      item.EncodeSettings(st),
	})
	if err != nil {
		return fmt.Errorf("dynamostore: put settings: %w", err)
	}
	return nil
}
