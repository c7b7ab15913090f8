package main

import (
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	elbv2 "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awswafv2"
	"github.com/aws/jsii-runtime-go"

	"github.com/llmgw/apitokens/pkg/routes"
)

// Stack is the deployed system, kept for tests and suppressions.
type Stack struct {
	Stack awscdk.Stack
	Table dynamoTable
	// AuditTable holds one event per change (schema.Audit).
	AuditTable dynamoTable
	// UsageTable counts, per token and day, what rate limits, quotas and
	// budgets check and the usage views show (schema.Usage).
	UsageTable dynamoTable
	Functions  *functions
	API        tokenAPI
	Serve      *serveWiring
	// ServeService is serve.mode: container's Fargate service (nil in
	// lambda mode, where Functions has the serve function).
	ServeService *serveService
	Console      *console // nil with console.enabled: false
}

// StackName is the CloudFormation stack name of a deployment.
func StackName(cfg *Config) string { return cfg.DeploymentName + "-ApiTokens" }

// BuildStack adds the whole system to app: token, audit and usage tables, roles, functions, REST
// API with its authorizer, ALB wiring and outputs. buildDir holds
// <function>/bootstrap for every function in pkg/routes.
func BuildStack(app awscdk.App, cfg *Config, buildDir string) *Stack {
	account := cfg.AccountNumber
	if account == "" {
		// Set by the CDK CLI when credentials are available; empty keeps the
		// template account-agnostic, so synth needs no credentials.
		account = os.Getenv("CDK_DEFAULT_ACCOUNT")
	}
	env := &awscdk.Environment{Region: jsii.String(cfg.Region)}
	if account != "" {
		env.Account = jsii.String(account)
	}
	stack := awscdk.NewStack(app, jsii.String(StackName(cfg)), &awscdk.StackProps{
		Env:         env,
		Description: jsii.String("API tokens for the " + cfg.DeploymentName + " LLM gateway (" + cfg.DeploymentStage + ")"),
	})
	// Listener tags are recent in CloudFormation and rejected by the
	// cfn-lint that CI runs (E3002); they carry nothing the ALB's tags don't.
	tagProps := &awscdk.TagProps{ExcludeResourceTypes: jsii.Strings(
		"AWS::ElasticLoadBalancingV2::Listener", "AWS::ElasticLoadBalancingV2::ListenerRule")}
	awscdk.Tags_Of(stack).Add(jsii.String("deploymentName"), jsii.String(cfg.DeploymentName), tagProps)
	awscdk.Tags_Of(stack).Add(jsii.String("deploymentStage"), jsii.String(cfg.DeploymentStage), tagProps)

	s := &Stack{Stack: stack}
	s.Table = newTokenTable(stack, cfg)
	s.AuditTable = newAuditTable(stack, cfg)
	s.UsageTable = newUsageTable(stack, cfg)
	tb := tables{Tokens: s.Table, Audit: s.AuditTable, Usage: s.UsageTable}
	// The VPC comes first: with serve.vpc.enabled the serve function goes
	// into it too.
	var vpc awsec2.IVpc
	newVpc := false
	if cfg.Network.ExistingListener.ARN == "" {
		vpc, newVpc = albVpc(stack, cfg)
	}
	placement := servePlacement(stack, cfg, vpc)
	var lambdaPlacement *vpcPlacement
	if !cfg.ServeContainer() {
		lambdaPlacement = placement
	}
	s.Functions = newFunctions(stack, cfg, tb, buildDir, lambdaPlacement)
	s.API = newTokenAPI(stack, cfg, s.Functions)
	var targets elbv2.ApplicationTargetGroup
	if cfg.ServeContainer() {
		s.ServeService = newServeService(stack, cfg, tb, placement)
		targets = s.ServeService.TargetGroup
	} else {
		targets = lambdaTargetGroup(stack, s.Functions.ByName[routes.FnServe])
	}
	s.Serve = newServeWiring(stack, cfg, targets, vpc, newVpc)

	if acl := cfg.WafWebACLArn; acl != "" {
		awswafv2.NewCfnWebACLAssociation(stack, jsii.String("ApiWaf"), &awswafv2.CfnWebACLAssociationProps{
			ResourceArn: s.API.API.DeploymentStage().StageArn(),
			WebAclArn:   jsii.String(acl),
		})
		if alb := s.Serve.LoadBalancer; alb != nil {
			awswafv2.NewCfnWebACLAssociation(stack, jsii.String("AlbWaf"), &awswafv2.CfnWebACLAssociationProps{
				ResourceArn: alb.LoadBalancerArn(),
				WebAclArn:   jsii.String(acl),
			})
		}
	}

	// RestApi adds its own "Endpoint" output with a generated name; ApiUrl
	// replaces it so the outputs are exactly the documented three.
	s.API.API.Node().TryRemoveChild(jsii.String("Endpoint"))
	awscdk.NewCfnOutput(stack, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{
		Description: jsii.String("Base URL of the token API; append api-tokens"),
		Value:       s.API.API.Url(),
	})
	if s.Serve.DNSName != nil {
		awscdk.NewCfnOutput(stack, jsii.String("AlbDnsName"), &awscdk.CfnOutputProps{
			Description: jsii.String("DNS name of the ALB serving " + routes.ServePathPattern),
			Value:       s.Serve.DNSName,
		})
	}
	awscdk.NewCfnOutput(stack, jsii.String("TableName"), &awscdk.CfnOutputProps{
		Description: jsii.String("DynamoDB token table (TOKEN_TABLE_NAME)"),
		Value:       s.Table.Table.TableName(),
	})
	awscdk.NewCfnOutput(stack, jsii.String("AuditTableName"), &awscdk.CfnOutputProps{
		Description: jsii.String("DynamoDB audit table (AUDIT_TABLE_NAME)"),
		Value:       s.AuditTable.Table.TableName(),
	})
	awscdk.NewCfnOutput(stack, jsii.String("UsageTableName"), &awscdk.CfnOutputProps{
		Description: jsii.String("DynamoDB usage table (USAGE_TABLE_NAME)"),
		Value:       s.UsageTable.Table.TableName(),
	})
	suppress(s, cfg)
	if cfg.Console.On() {
		s.Console = newConsole(cfg, s, buildDir)
	}
	return s
}
