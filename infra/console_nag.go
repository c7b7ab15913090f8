package main

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Suppression reasons for the console's accepted AwsSolutions findings.
const (
	reasonPreflightAuth = "CORS preflight: browsers send OPTIONS without credentials, so it cannot be authorized. API Gateway answers it " +
		"itself (MOCK integration, no function runs, no data) with the allowed origin, headers and methods; every other method keeps the REQUEST authorizer."
	reasonCFR1 = "The console is a static single-page app for the deployment's users, wherever they are; every call it makes is " +
		"authenticated by the identity provider and the token API's authorizer, so there is no country to single out."
	reasonCFR2 = "The distribution serves only the console's static files (no data, no server code); the token API it calls has " +
		"its own protection (wafWebAclArn on the stage, throttling, the authorizer). A CloudFront web ACL lives in us-east-1 and can be added there."
	reasonCFR4 = "Without console.domainName the distribution uses the default *.cloudfront.net certificate, whose security policy " +
		"CloudFront fixes at TLSv1; set console.domainName and console.certificateArn to get TLSv1.2_2021."
	reasonS1ConsoleLogs = "This bucket is itself the log destination (CloudFront standard logs of the console) " +
		"and holds no application data; server access logging for it would need yet another bucket."
	reasonS1ConsoleBucket = "Every read of this bucket comes through CloudFront (origin access control; the bucket policy allows nothing else), " +
		"whose standard logs record each request; the only writer is the stack's deployment. S3 server access logs would need an ACL grant (W3045)."
	reasonIAM5Deployment = "CDK's BucketDeployment grants its function the S3 action groups it uses to sync a deployment (GetObject*, List*, " +
		"DeleteObject*, Abort*...) on the objects of two buckets only: the CDK asset bucket (read) and the console bucket (read and write)."
	reasonL1Deployment = "CDK's BucketDeployment function (with the AWS CLI layer) pins the Python runtime it is tested with; it runs only " +
		"during deployments and CDK upgrades move it forward."
	reasonAutoDeleteProvider = "CDK's auto-delete-objects provider for the console bucket (removalPolicy: destroy only): it empties the bucket " +
		"when the stack is deleted. Its role and runtime are CDK's own and not configurable."
)

// suppressPreflight records why an OPTIONS method has no authorizer.
func suppressPreflight(m awsapigateway.Method) {
	cdknag.NagSuppressions_AddResourceSuppressions(m, &[]*cdknag.NagPackSuppression{
		{Id: jsii.String("AwsSolutions-APIG4"), Reason: jsii.String(reasonPreflightAuth)},
		{Id: jsii.String("AwsSolutions-COG4"), Reason: jsii.String(reasonPreflightAuth)},
	}, jsii.Bool(false))
}

// suppressConsole records every accepted AwsSolutions finding of the console.
func suppressConsole(s *Stack, cfg *Config, c *console) {
	dist := []*cdknag.NagPackSuppression{
		{Id: jsii.String("AwsSolutions-CFR1"), Reason: jsii.String(reasonCFR1)},
		{Id: jsii.String("AwsSolutions-CFR2"), Reason: jsii.String(reasonCFR2)},
	}
	if cfg.Console.DomainName == "" {
		dist = append(dist, &cdknag.NagPackSuppression{Id: jsii.String("AwsSolutions-CFR4"), Reason: jsii.String(reasonCFR4)})
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c.Distribution, &dist, jsii.Bool(false))
	cdknag.NagSuppressions_AddResourceSuppressions(c.LogsBucket, &[]*cdknag.NagPackSuppression{
		{Id: jsii.String("AwsSolutions-S1"), Reason: jsii.String(reasonS1ConsoleLogs)},
	}, jsii.Bool(false))
	cdknag.NagSuppressions_AddResourceSuppressions(c.Bucket, &[]*cdknag.NagPackSuppression{
		{Id: jsii.String("AwsSolutions-S1"), Reason: jsii.String(reasonS1ConsoleBucket)},
	}, jsii.Bool(false))
	cdknag.NagSuppressions_AddResourceSuppressions(c.DeploymentRole, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String(reasonIAM5Deployment),
		AppliesTo: &[]interface{}{
			"Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*", "Action::s3:DeleteObject*", "Action::s3:Abort*",
			// The console bucket's objects and the CDK asset bucket's.
			&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::<ConsoleBucket[A-F0-9]{8}\.Arn>\/\*$/`)},
			&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:s3:::cdk-[a-z0-9]+-assets-<AWS::AccountId>-[a-z0-9-]+\/\*$/`)},
		},
	}}, jsii.Bool(true))
	// CDK's singleton handlers sit at the stack's top level.
	for _, child := range *s.Stack.Node().Children() {
		id := *child.Node().Id()
		switch {
		case strings.HasPrefix(id, "Custom::CDKBucketDeployment"):
			cdknag.NagSuppressions_AddResourceSuppressions(child, &[]*cdknag.NagPackSuppression{
				{Id: jsii.String("AwsSolutions-L1"), Reason: jsii.String(reasonL1Deployment)},
			}, jsii.Bool(true))
		case strings.HasPrefix(id, "Custom::S3AutoDeleteObjects"):
			suppressAll(child, reasonAutoDeleteProvider, "AwsSolutions-IAM4", "AwsSolutions-L1")
		}
	}
}

func suppressAll(c constructs.IConstruct, reason string, ids ...string) {
	sup := make([]*cdknag.NagPackSuppression, len(ids))
	for i, id := range ids {
		sup[i] = &cdknag.NagPackSuppression{Id: jsii.String(id), Reason: jsii.String(reason)}
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &sup, jsii.Bool(true))
}
