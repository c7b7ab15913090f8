package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/llmgw/apitokens/pkg/schema"
)

// tokenTable is the token table and the ARNs IAM statements name.
type tokenTable struct {
	Table     awsdynamodb.Table
	IndexARNs []*string // one per schema.Tokens index, never "index/*"
}

// newTokenTable builds the table from schema.Tokens, so the deployed keys
// and indexes are the ones the store code uses.
//
// No TTL attribute is set on purpose: expired tokens stay listable (isExpired)
// until someone deletes them, and guard items must never expire on their own.
func newTokenTable(scope constructs.Construct, cfg *Config) tokenTable {
	retain := cfg.RemovalPolicy == "retain"
	policy := awscdk.RemovalPolicy_DESTROY
	if retain {
		policy = awscdk.RemovalPolicy_RETAIN
	}
	t := awsdynamodb.NewTable(scope, jsii.String("TokenTable"), &awsdynamodb.TableProps{
		TableName:    jsii.String(schema.TableName(cfg.DeploymentName)),
		PartitionKey: &awsdynamodb.Attribute{Name: jsii.String(schema.Tokens.PartitionKey), Type: attrType(schema.String)},
		BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		DeletionProtection: jsii.Bool(retain),
		RemovalPolicy:      policy,
		// Encrypted at rest with the AWS managed key (aws/dynamodb), which
		// CloudTrail can audit, rather than the invisible AWS owned key.
		Encryption: awsdynamodb.TableEncryption_AWS_MANAGED,
	})
	tt := tokenTable{Table: t}
	for _, ix := range schema.Tokens.Indexes {
		t.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
			IndexName:      jsii.String(ix.Name),
			PartitionKey:   &awsdynamodb.Attribute{Name: jsii.String(ix.PartitionKey), Type: attrType(schema.String)},
			ProjectionType: awsdynamodb.ProjectionType_ALL,
		})
		tt.IndexARNs = append(tt.IndexARNs, jsii.String(*t.TableArn()+"/index/"+ix.Name))
	}
	return tt
}

func attrType(k schema.KeyType) awsdynamodb.AttributeType {
	switch k {
	case schema.String:
		return awsdynamodb.AttributeType_STRING
	}
	panic("schema: unsupported key type " + string(k))
}
