package dynamostore

import (
	"context"
	"fmt"

	"github.com/llmgw/apitokens/pkg/dynamotable"
	"github.com/llmgw/apitokens/pkg/schema"
)

// TableAPI is the part of the DynamoDB client CreateTable uses.
// *dynamodb.Client implements it.
type TableAPI = dynamotable.API

// CreateTable creates the token table as schema.Tokens describes it
// (dynamotable.Create): for DynamoDB Local and tests; in AWS the CDK app
// owns the table.
func CreateTable(ctx context.Context, api TableAPI, tableName string) error {
	if err := dynamotable.Create(ctx, api, tableName, schema.Tokens); err != nil {
		return fmt.Errorf("dynamostore: %w", err)
	}
	return nil
}

// CreateAuditTable creates the audit table as schema.Audit describes it,
// TTL on schema.AttrEventExpiresAt included when api can.
func CreateAuditTable(ctx context.Context, api TableAPI, tableName string) error {
	if err := dynamotable.Create(ctx, api, tableName, schema.Audit); err != nil {
		return fmt.Errorf("dynamostore: %w", err)
	}
	return nil
}
