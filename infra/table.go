package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/llmgw/apitokens/pkg/schema"
)

// dynamoTable is a table and the ARNs IAM statements name.
type dynamoTable struct {
	Table     awsdynamodb.Table
	IndexARNs []*string // one per index of its schema.Table, never "index/*"
	// IndexARN maps each index name to its entry of IndexARNs, for
	// statements that need one index only.
	IndexARN map[string]*string
}

// newTokenTable builds the token table from schema.Tokens, so the deployed
// keys and indexes are the ones the store code uses.
//
// schema.Tokens has no TTL attribute on purpose: expired tokens stay
// listable (isExpired) until someone deletes them, and guard items must
// never expire on their own.
func newTokenTable(scope constructs.Construct, cfg *Config) dynamoTable {
	return newTable(scope, "TokenTable", schema.TableName(cfg.DeploymentName), schema.Tokens, cfg)
}

// newAuditTable builds the audit table from schema.Audit: one item per
// change to a token or to the settings, expiring schema.Audit.TTL (the
// event's time plus apiTokens.auditRetentionDays) after it was written.
func newAuditTable(scope constructs.Construct, cfg *Config) dynamoTable {
	return newTable(scope, "AuditTable", schema.AuditTableName(cfg.DeploymentName), schema.Audit, cfg)
}

// newUsageTable builds the usage table from schema.Usage: per token and
// UTC day, the request counters rate limits check and what the token
// used, expiring schema.Usage.TTL (usage.retentionDays after the day).
func newUsageTable(scope constructs.Construct, cfg *Config) dynamoTable {
	return newTable(scope, "UsageTable", schema.UsageTableName(cfg.DeploymentName), schema.Usage, cfg)
}

// newTable builds one table from its schema definition. Every table of the
// system is alike in what is not schema: on-demand, point-in-time
// recovery, the AWS managed key, and the deployment's removal policy.
func newTable(scope constructs.Construct, id, name string, def schema.Table, cfg *Config) dynamoTable {
	retain := cfg.RemovalPolicy == "retain"
	policy := awscdk.RemovalPolicy_DESTROY
	if retain {
		policy = awscdk.RemovalPolicy_RETAIN
	}
	props := &awsdynamodb.TableProps{
		TableName:    jsii.String(name),
		PartitionKey: keyAttr(def.PartitionKey),
		SortKey:      keyAttr(def.SortKey),
		BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		DeletionProtection: jsii.Bool(retain),
		RemovalPolicy:      policy,
		// Encrypted at rest with the AWS managed key (aws/dynamodb), which
		// CloudTrail can audit, rather than the invisible AWS owned key.
		Encryption: awsdynamodb.TableEncryption_AWS_MANAGED,
	}
	if def.TTL != "" {
		props.TimeToLiveAttribute = jsii.String(def.TTL)
	}
	t := awsdynamodb.NewTable(scope, jsii.String(id), props)
	dt := dynamoTable{Table: t, IndexARN: map[string]*string{}}
	for _, ix := range def.Indexes {
		t.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
			IndexName:      jsii.String(ix.Name),
			PartitionKey:   keyAttr(ix.PartitionKey),
			SortKey:        keyAttr(ix.SortKey),
			ProjectionType: awsdynamodb.ProjectionType_ALL,
		})
		arn := jsii.String(*t.TableArn() + "/index/" + ix.Name)
		dt.IndexARNs = append(dt.IndexARNs, arn)
		dt.IndexARN[ix.Name] = arn
	}
	return dt
}

// keyAttr is a key attribute of the schema (every key is a string), or
// nil for a key the schema leaves out ("").
func keyAttr(name string) *awsdynamodb.Attribute {
	if name == "" {
		return nil
	}
	return &awsdynamodb.Attribute{Name: jsii.String(name), Type: attrType(schema.String)}
}

func attrType(k schema.KeyType) awsdynamodb.AttributeType {
	switch k {
	case schema.String:
		return awsdynamodb.AttributeType_STRING
	}
	panic("schema: unsupported key type " + string(k))
}
