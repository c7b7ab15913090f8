// Package dynamotable creates a DynamoDB table as a schema.Table
// describes it, for DynamoDB Local and tests (in AWS the CDK app owns every
// table): on-demand billing, every GSI with ALL projection, the TTL turned
// on when the table has one, and an existing table checked rather than
// trusted. The token, audit and usage stores all create theirs with it.
package dynamotable

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

// API is the part of the DynamoDB client Create uses. *dynamodb.Client
// implements it.
type API interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// ttlAPI is implemented by *dynamodb.Client; Create enables a table's TTL
// with it when api has it, so that API stays as small as it is.
type ttlAPI interface {
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

// Create creates tableName as tbl describes it unless a table of that
// name exists, waits until it and its indexes are ACTIVE, and enables its
// TTL on tbl.TTL when tbl has one and api can (a TTL already enabled is no
// error). An existing table without tbl's keys or indexes is an error
// rather than a store that fails later. Errors name the table, and callers
// say which store they are.
func Create(ctx context.Context, api API, tableName string, tbl schema.Table) error {
	if err := createTable(ctx, api, tableName, tbl); err != nil {
		return err
	}
	ttl, ok := api.(ttlAPI)
	if !ok || tbl.TTL == "" {
		return nil
	}
	_, err := ttl.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(tableName),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(tbl.TTL), Enabled: aws.Bool(true),
		},
	})
	if err != nil && !strings.Contains(err.Error(), "already enabled") {
		return fmt.Errorf("enable TTL on %s: %w", tableName, err)
	}
	return nil
}

func keySchema(pk, sk string) []types.KeySchemaElement {
	ks := []types.KeySchemaElement{{AttributeName: aws.String(pk), KeyType: types.KeyTypeHash}}
	if sk != "" {
		ks = append(ks, types.KeySchemaElement{AttributeName: aws.String(sk), KeyType: types.KeyTypeRange})
	}
	return ks
}

func createTable(ctx context.Context, api API, tableName string, tbl schema.Table) error {
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
		return fmt.Errorf("create table %s: %w", tableName, err)
	}
	return waitActive(ctx, api, tableName, tbl)
}

// waitActive polls DescribeTable (the SDK waiter starts at a 20 s delay,
// far too slow for DynamoDB Local) and checks the key schema on the way.
func waitActive(ctx context.Context, api API, tableName string, tbl schema.Table) error {
	delay := 50 * time.Millisecond
	for {
		out, err := api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tableName)})
		if err != nil {
			return fmt.Errorf("describe table %s: %w", tableName, err)
		}
		td := out.Table
		if err := checkSchema(td, tbl); err != nil {
			return fmt.Errorf("table %s: %w", tableName, err)
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
			return fmt.Errorf("table %s not active: %w", tableName, ctx.Err())
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

// keyOf is "partition/sort" ("partition/" without a sort key).
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
