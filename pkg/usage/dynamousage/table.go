package dynamousage

import (
	"context"
	"fmt"

	"github.com/llmgw/apitokens/pkg/dynamotable"
	"github.com/llmgw/apitokens/pkg/schema"
)

// TableAPI is the part of the DynamoDB client CreateTable uses.
// *dynamodb.Client implements it.
type TableAPI = dynamotable.API

// CreateTable creates the usage table as schema.Usage describes it
// (dynamotable.Create), its TTL on schema.AttrUsageExpiresAt included when
// api can: for DynamoDB Local and tests; in AWS the CDK app owns the table.
func CreateTable(ctx context.Context, api TableAPI, tableName string) error {
	if err := dynamotable.Create(ctx, api, tableName, schema.Usage); err != nil {
		return fmt.Errorf("dynamousage: %w", err)
	}
	return nil
}
