package main

import (
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// AddChecks runs the cdk-nag AwsSolutions pack on every stack of app.
// Findings of error level become error annotations, which fail `cdk synth`
// and the tests. reports writes cdk-nag's CSV report next to the template.
func AddChecks(app awscdk.App, reports bool) {
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{
		Verbose: jsii.Bool(true),
		Reports: jsii.Bool(reports),
	}), nil)
}

// Suppression reasons, one per accepted finding. Each is attached to the
// construct it concerns, never to the whole stack.
const (
	reasonCOG4 = "The OIDC issuer is configurable (authConfig.authority) and need not be Cognito, and API tokens are not Cognito tokens: " +
		"every method uses the Go REQUEST authorizer, which verifies JWTs (issuer, audience, signature, expiry) and API tokens."
	reasonAPIG2 = "Request bodies and parameters are validated in the functions, which must answer 422 for malformed JSON or wrong types " +
		"as the token API contract says; an API Gateway request validator would answer 400 first. The authorizer runs before any function."
	reasonIAM4CloudWatchRole = "This is API Gateway's account-level CloudWatch Logs role, needed for stage logging; AmazonAPIGatewayPushToCloudWatchLogs " +
		"is the policy AWS documents for it. It exists only because apiTokens.createCloudWatchRole: true asked for it."
	reasonIAM5VpcAccess = "serve.vpc puts the serve function in a VPC, and Lambda manages its network interfaces with the function's role: " +
		"these are the EC2 actions of AWSLambdaVPCAccessExecutionRole, granted inline, on \"*\" as in that policy, because the interfaces " +
		"do not exist before Lambda creates them and the Describe actions take no resource."
	reasonECS2 = "The serve container's environment holds only settings the template already shows (table name, OIDC issuer and client id, " +
		"group names, upstream URL, model permissions, port, drain time), the same the serve Lambda function gets in lambda mode; " +
		"the one secret, the upstream's API key, comes from Secrets Manager through the task definition's secrets."
	reasonIAM5EcrAuth = "CDK's ECS execution role policy: ecr:GetAuthorizationToken has no resource-level permissions, so it is granted on \"*\"; " +
		"the image pull actions are on the asset repository only and the secret read on the configured secret only."
	reasonS1LogsBucket = "This bucket is itself the log destination (ALB access logs, VPC flow logs) and holds no application data; " +
		"server access logging for it would need yet another bucket."
	reasonEC23 = "network.allowedCidrs includes 0.0.0.0/0: the OpenAI-compatible endpoint serves clients (IDE plugins, SDKs, CI) from anywhere " +
		"and every call is authenticated by the serve function. Only 443 (and 80, redirecting to 443) are open; narrow network.allowedCidrs to restrict."
)

// suppress records every accepted AwsSolutions finding on the construct it
// applies to.
func suppress(s *Stack, cfg *Config) {
	api := s.API.API
	cdknag.NagSuppressions_AddResourceSuppressions(api, &[]*cdknag.NagPackSuppression{
		{Id: jsii.String("AwsSolutions-APIG2"), Reason: jsii.String(reasonAPIG2)},
	}, jsii.Bool(false))
	for _, m := range *api.Methods() {
		cdknag.NagSuppressions_AddResourceSuppressions(m, &[]*cdknag.NagPackSuppression{
			{Id: jsii.String("AwsSolutions-COG4"), Reason: jsii.String(reasonCOG4)},
		}, jsii.Bool(false))
	}
	if *cfg.APITokens.CreateCloudWatchRole {
		cdknag.NagSuppressions_AddResourceSuppressionsByPath(s.Stack, jsii.String("/"+*s.Stack.StackName()+"/Api/CloudWatchRole/Resource"), &[]*cdknag.NagPackSuppression{{
			Id:        jsii.String("AwsSolutions-IAM4"),
			Reason:    jsii.String(reasonIAM4CloudWatchRole),
			AppliesTo: &[]interface{}{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"},
		}}, jsii.Bool(false))
	}
	if s.Functions.ServeInVpc {
		cdknag.NagSuppressions_AddResourceSuppressions(s.Functions.ServeRole, &[]*cdknag.NagPackSuppression{{
			Id:        jsii.String("AwsSolutions-IAM5"),
			Reason:    jsii.String(reasonIAM5VpcAccess),
			AppliesTo: &[]interface{}{"Resource::*"},
		}}, jsii.Bool(true))
	}
	if svc := s.ServeService; svc != nil {
		cdknag.NagSuppressions_AddResourceSuppressions(svc.TaskDef, &[]*cdknag.NagPackSuppression{
			{Id: jsii.String("AwsSolutions-ECS2"), Reason: jsii.String(reasonECS2)},
		}, jsii.Bool(false))
		cdknag.NagSuppressions_AddResourceSuppressions(svc.TaskDef.ExecutionRole(), &[]*cdknag.NagPackSuppression{{
			Id:        jsii.String("AwsSolutions-IAM5"),
			Reason:    jsii.String(reasonIAM5EcrAuth),
			AppliesTo: &[]interface{}{"Resource::*"},
		}}, jsii.Bool(true))
	}
	if b := s.Serve.LogsBucket; b != nil {
		cdknag.NagSuppressions_AddResourceSuppressions(b, &[]*cdknag.NagPackSuppression{
			{Id: jsii.String("AwsSolutions-S1"), Reason: jsii.String(reasonS1LogsBucket)},
		}, jsii.Bool(false))
	}
	if sg := s.Serve.SecurityGroup; sg != nil && slices.Contains(cfg.Network.AllowedCidrs, "0.0.0.0/0") {
		cdknag.NagSuppressions_AddResourceSuppressions(sg, &[]*cdknag.NagPackSuppression{
			{Id: jsii.String("AwsSolutions-EC23"), Reason: jsii.String(reasonEC23)},
		}, jsii.Bool(false))
	}
}
