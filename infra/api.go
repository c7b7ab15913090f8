package main

import (
	"encoding/json"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/routes"
)

// tokenAPI is the REST API and its REQUEST authorizer.
type tokenAPI struct {
	API        awsapigateway.RestApi
	Authorizer awsapigateway.RequestAuthorizer
}

// newTokenAPI builds the /api-tokens REST API from routes.APITokens: every
// route becomes one method, each behind the Go REQUEST authorizer.
func newTokenAPI(scope constructs.Construct, cfg *Config, fns *functions) tokenAPI {
	removal := awscdk.RemovalPolicy_RETAIN
	if cfg.RemovalPolicy == "destroy" {
		removal = awscdk.RemovalPolicy_DESTROY
	}
	accessLogs := awslogs.NewLogGroup(scope, jsii.String("ApiAccessLogs"), &awslogs.LogGroupProps{
		Retention:     retentionDays[cfg.LogRetentionDays],
		RemovalPolicy: removal,
	})
	t := cfg.APITokens
	apiProps := &awsapigateway.RestApiProps{
		RestApiName:   jsii.String(cfg.DeploymentName + "-api-tokens"),
		Description:   jsii.String("API token management (" + cfg.DeploymentStage + ")"),
		EndpointTypes: &[]awsapigateway.EndpointType{awsapigateway.EndpointType_REGIONAL},
		// Stage logging needs the account-level API Gateway CloudWatch role,
		// one per account and region. Created only when asked for, and then
		// retained: other APIs in the account rely on it too.
		CloudWatchRole: t.CreateCloudWatchRole,
		DeployOptions: &awsapigateway.StageOptions{
			StageName:            jsii.String(cfg.DeploymentStage),
			AccessLogDestination: awsapigateway.NewLogGroupLogDestination(accessLogs),
			AccessLogFormat:      awsapigateway.AccessLogFormat_Custom(jsii.String(accessLogFormat())),
			ThrottlingRateLimit:  jsii.Number(float64(t.Throttling.RateLimit)),
			ThrottlingBurstLimit: jsii.Number(float64(t.Throttling.BurstLimit)),
			// ERROR execution logs only, and never data traces: a data trace
			// logs request headers, which carry tokens.
			LoggingLevel:     awsapigateway.MethodLoggingLevel_ERROR,
			DataTraceEnabled: jsii.Bool(false),
			MetricsEnabled:   jsii.Bool(true),
		},
	}
	if *t.CreateCloudWatchRole {
		// CDK refuses a removal policy for a role it does not create.
		apiProps.CloudWatchRoleRemovalPolicy = awscdk.RemovalPolicy_RETAIN
	}
	api := awsapigateway.NewRestApi(scope, jsii.String("Api"), apiProps)

	if !*t.CreateCloudWatchRole {
		awscdk.Annotations_Of(api).AddInfo(jsii.String(cloudWatchRoleNote))
	}

	// Identity sources: API Gateway checks that every identity source is
	// present before it calls the authorizer and answers 401 itself when one
	// is missing (documented for cached authorizers). Listing Authorization
	// and Api-Key would therefore refuse callers that send only one of them.
	// With the result cache off (the default) none are given, so every
	// request reaches the authorizer, which reads Authorization or Api-Key
	// itself. With caching on, the sources are the cache key and must
	// identify the caller: Authorization is used, and Api-Key-only calls are
	// refused (warned about at synth).
	ttl := t.AuthorizerCacheSeconds
	sources := []*string{}
	if ttl > 0 {
		sources = append(sources, awsapigateway.IdentitySource_Header(jsii.String("Authorization")))
	}
	authz := awsapigateway.NewRequestAuthorizer(scope, jsii.String("Authorizer"), &awsapigateway.RequestAuthorizerProps{
		AuthorizerName:  jsii.String(cfg.DeploymentName + "-api-tokens-authorizer"),
		Handler:         fns.ByName[routes.FnAuthorizer],
		ResultsCacheTtl: awscdk.Duration_Seconds(jsii.Number(float64(ttl))),
		IdentitySources: &sources,
	})
	if ttl == 0 {
		// CDK writes IdentitySource: ""; leave the property out, which is
		// what API Gateway documents for an uncached REQUEST authorizer.
		authz.Node().DefaultChild().(awscdk.CfnResource).AddPropertyDeletionOverride(jsii.String("IdentitySource"))
	} else {
		awscdk.Annotations_Of(authz).AddWarningV2(jsii.String("apitokens:authorizer-cache"),
			jsii.String("apiTokens.authorizerCacheSeconds > 0: API Gateway caches by the Authorization header and refuses requests that send only Api-Key; revocations take up to that long to apply"))
	}

	integrations := map[string]awsapigateway.LambdaIntegration{}
	for _, r := range routes.APITokens {
		in, ok := integrations[r.Function]
		if !ok {
			in = awsapigateway.NewLambdaIntegration(fns.ByName[r.Function], &awsapigateway.LambdaIntegrationOptions{
				// Console test invocations bypass the authorizer; no need
				// for the extra permission.
				AllowTestInvoke: jsii.Bool(false),
			})
			integrations[r.Function] = in
		}
		api.Root().ResourceForPath(jsii.String(r.Resource)).AddMethod(jsii.String(r.Method), in, &awsapigateway.MethodOptions{
			AuthorizationType: awsapigateway.AuthorizationType_CUSTOM,
			Authorizer:        authz,
		})
	}

	// API Gateway answers an unknown path or method with 403 "Missing
	// Authentication Token"; the local gateway (and the spec's callers)
	// expect a JSON 404.
	api.AddGatewayResponse(jsii.String("NotFound"), &awsapigateway.GatewayResponseOptions{
		Type:       awsapigateway.ResponseType_MISSING_AUTHENTICATION_TOKEN(),
		StatusCode: jsii.String("404"),
		Templates:  &map[string]*string{"application/json": jsii.String(`{"message":"Not Found"}`)},
	})
	return tokenAPI{API: api, Authorizer: authz}
}

// cloudWatchRoleNote is printed by synth when the stack leaves the account's
// API Gateway CloudWatch role alone.
const cloudWatchRoleNote = "apiTokens.createCloudWatchRole is false: the stage's access and error logs go to CloudWatch through " +
	"API Gateway's account-level CloudWatch Logs role, set once per account and region. If this region has none, the deployment fails " +
	"with \"CloudWatch Logs role ARN must be set in account settings to enable logging\": set it once (API Gateway console, Settings, " +
	"or `aws apigateway update-account`), or deploy once with apiTokens.createCloudWatchRole: true."

// accessLogFormat is one JSON line per request. It names the caller as the
// authorizer saw it (never a credential: the authorizer context holds none).
func accessLogFormat() string {
	f := map[string]string{
		"requestId":          "$context.requestId",
		"ip":                 "$context.identity.sourceIp",
		"userAgent":          "$context.identity.userAgent",
		"requestTime":        "$context.requestTime",
		"httpMethod":         "$context.httpMethod",
		"resourcePath":       "$context.resourcePath",
		"status":             "$context.status",
		"protocol":           "$context.protocol",
		"responseLength":     "$context.responseLength",
		"integrationLatency": "$context.integrationLatency",
		"authorizerLatency":  "$context.authorizer.integrationLatency",
		"authorizerStatus":   "$context.authorizer.status",
		"authorizerError":    "$context.authorizer.error",
		"errorMessage":       "$context.error.message",
		"username":           "$context.authorizer." + auth.CtxUsername,
		"authType":           "$context.authorizer." + auth.CtxAuthType,
		"tokenUUID":          "$context.authorizer." + auth.CtxTokenUUID,
	}
	b, _ := json.Marshal(f) // a map[string]string always marshals
	return string(b)
}
