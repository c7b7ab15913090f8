package dynamousage

import (
	"context"
	"errors"
	"fmt"
	"strings"
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

// ttlAPI is implemented by *dynamodb.Client; CreateTable enables the TTL
// with it when api has it.
type ttlAPI interface {
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

// CreateTable creates the usage table as schema.Usage describes it
// (tokenUUID/day, username-index and month-index with day as their sort
// key, ALL projection, on-demand) unless a table of that name exists,
// waits until it and its indexes are ACTIVE, and enables its TTL on
// schema.AttrUsageExpiresAt when api can (a TTL already enabled is no
// error). An existing table with other keys or without the indexes is an
// error. It is for DynamoDB Local and tests; in AWS the CDK app owns the
// table.
func CreateTable(ctx context.Context, api TableAPI, tableName string) error {
	tbl := schema.Usage
	seen := map[string]bool{}
	var defs []types.AttributeDefinition
	def := func(name string) {
		if name != "" && !seen[name] {
			seen[name] = true
			defs = append(defs, types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: types.ScalarAttributeType(schema.String)})
		}
	}
	def(tbl.PartitionKey)
	def(tbl.SortKey)
	var gsis []types.GlobalSecondaryIndex
	for _, ix := range tbl.Indexes {
		def(ix.PartitionKey)
		def(ix.SortKey)
		gsis = append(gsis, types.GlobalSecondaryIndex{
			IndexName:  aws.String(ix.Name),
			KeySchema:  keySchema(ix.PartitionKey, ix.SortKey),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		})
	}
	_, err := api.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:              aws.String(tableName),
		AttributeDefinitions:   defs,
		KeySchema:              keySchema(tbl.PartitionKey, tbl.SortKey),
		GlobalSecondaryIndexes: gsis,
		BillingMode:            types.BillingModePayPerRequest,
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("dynamousage: create table %s: %w", tableName, err)
	}
	if err := waitActive(ctx, api, tableName, tbl); err != nil {
		return err
	}
	ttl, ok := api.(ttlAPI)
	if !ok {
		return nil
	}
	_, err = ttl.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(tableName),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(tbl.TTL), Enabled: aws.Bool(true),
		},
	})
	if err != nil && !strings.Contains(err.Error(), "already enabled") {
		return fmt.Errorf("dynamousage: enable TTL on %s: %w", tableName, err)
	}
	return nil
}

func keySchema(pk, sk string) []types.KeySchemaElement {
	return []types.KeySchemaElement{
		{AttributeName: aws.String(pk), KeyType: types.KeyTypeHash},
		{AttributeName: aws.String(sk), KeyType: types.KeyTypeRange},
	}
}

// waitActive polls DescribeTable (the SDK waiter starts at a 20 s delay,
// far too slow for DynamoDB Local) and checks the keys on the way.
func waitActive(ctx context.Context, api TableAPI, tableName string, tbl schema.Table) error {
	delay := 50 * time.Millisecond
	for {
		out, err := api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tableName)})
		if err != nil {
			return fmt.Errorf("dynamousage: describe table %s: %w", tableName, err)
		}
		td := out.Table
		if err := checkSchema(td, tbl); err != nil {
			return fmt.Errorf("dynamousage: table %s: %w", tableName, err)
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
			return fmt.Errorf("dynamousage: table %s not active: %w", tableName, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}

func checkSchema(td *types.TableDescription, tbl schema.Table) error {
	if td == nil {
		return errors.New("no description")
	}
	if keyOf(td.KeySchema) != tbl.PartitionKey+"/"+tbl.SortKey {
		return fmt.Errorf("key schema is not %q/%q", tbl.PartitionKey, tbl.SortKey)
	}
	have := map[string]string{}
	for _, ix := range td.GlobalSecondaryIndexes {
		have[aws.ToString(ix.IndexName)] = keyOf(ix.KeySchema)
	}
	for _, ix := range tbl.Indexes {
		if have[ix.Name] != ix.PartitionKey+"/"+ix.SortKey {
			return fmt.Errorf("index %s on %s/%s is missing", ix.Name, ix.PartitionKey, ix.SortKey)
		}
	}
	return nil
}

// keyOf is "partition/sort".
func keyOf(ks []types.KeySchemaElement) string {
	var pk, sk string
	for _, k := range ks {
		switch k.KeyType {
		case types.KeyTypeHash:
			pk = aws.ToString(k.AttributeName)
		case types.KeyTypeRange:
			sk = aws.ToString(k.AttributeName)
		}
	}
	return pk + "/" + sk
}
