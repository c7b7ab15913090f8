package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/llmgw/apitokens/pkg/schema"
)

// TableAPI is the part of the DynamoDB client CreateTable uses.
// *dynamodb.Client implements it.
type TableAPI interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// CreateTable creates the token table as schema.Tokens describes it
// (on-demand billing, every GSI with ALL projection) unless a table of that
// name exists, and waits until it and its indexes are ACTIVE. It is for
// DynamoDB Local and tests; in AWS the CDK app owns the table.
//
// An existing table is checked, not trusted: a table without the expected
// partition key or indexes is an error rather than a store that fails later.
func CreateTable(ctx context.Context, api TableAPI, tableName string) error {
	defs := []types.AttributeDefinition{{AttributeName: aws.String(schema.Tokens.PartitionKey), AttributeType: types.ScalarAttributeType(schema.String)}}
	var gsis []types.GlobalSecondaryIndex
	for _, ix := range schema.Tokens.Indexes {
		defs = append(defs, types.AttributeDefinition{AttributeName: aws.String(ix.PartitionKey), AttributeType: types.ScalarAttributeType(schema.String)})
		gsis = append(gsis, types.GlobalSecondaryIndex{
			IndexName:  aws.String(ix.Name),
			KeySchema:  []types.KeySchemaElement{{AttributeName: aws.String(ix.PartitionKey), KeyType: types.KeyTypeHash}},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		})
	}
	_, err := api.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:              aws.String(tableName),
		AttributeDefinitions:   defs,
		KeySchema:              []types.KeySchemaElement{{AttributeName: aws.String(schema.Tokens.PartitionKey), KeyType: types.KeyTypeHash}},
		GlobalSecondaryIndexes: gsis,
		BillingMode:            types.BillingModePayPerRequest,
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("dynamostore: create table %s: %w", tableName, err)
	}
	return waitActive(ctx, api, tableName)
}

// waitActive polls DescribeTable (the SDK waiter starts at a 20 s delay,
// far too slow for DynamoDB Local) and checks the key schema on the way.
func waitActive(ctx context.Context, api TableAPI, tableName string) error {
	delay := 50 * time.Millisecond
	for {
		out, err := api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tableName)})
		if err != nil {
			return fmt.Errorf("dynamostore: describe table %s: %w", tableName, err)
		}
		td := out.Table
		if err := checkSchema(td); err != nil {
			return fmt.Errorf("dynamostore: table %s: %w", tableName, err)
		}
		ready := td.TableStatus == types.TableStatusActive
		for _, ix := range td.GlobalSecondaryIndexes {
			ready = ready && ix.IndexStatus == types.IndexStatusActive
		}
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("dynamostore: table %s not active: %w", tableName, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}

func checkSchema(td *types.TableDescription) error {
	if td == nil {
		return errors.New("no description")
	}
	if len(td.KeySchema) != 1 || aws.ToString(td.KeySchema[0].AttributeName) != schema.Tokens.PartitionKey {
		return fmt.Errorf("key schema is not %q alone", schema.Tokens.PartitionKey)
	}
	have := map[string]string{}
	for _, ix := range td.GlobalSecondaryIndexes {
		if len(ix.KeySchema) > 0 {
			have[aws.ToString(ix.IndexName)] = aws.ToString(ix.KeySchema[0].AttributeName)
		}
	}
	for _, ix := range schema.Tokens.Indexes {
		if have[ix.Name] != ix.PartitionKey {
			return fmt.Errorf("index %s on %s is missing", ix.Name, ix.PartitionKey)
		}
	}
	return nil
}
