package main

import (
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/jsii-runtime-go"

	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/routes"
)

// corsAllowedHeaders are the request headers the console sends: a JWT in
// Authorization, or an API token in Api-Key, and JSON bodies.
var corsAllowedHeaders = []string{"Authorization", "Api-Key", "Content-Type"}

// corsMaxAgeSeconds is how long a browser may reuse a preflight answer.
const corsMaxAgeSeconds = 3600

// corsOrigin is the value of an API Gateway header mapping: a quoted literal.
func corsOrigin(origin string) string { return "'" + origin + "'" }

// addConsoleCORS lets the console (and only it: origin, never "*") call
// the token API from the browser:
//   - every resource with methods answers OPTIONS itself (a MOCK
//     integration, no authorizer: browsers send preflights without
//     credentials) with that resource's methods;
//   - API Gateway's own error answers (DEFAULT_4XX, DEFAULT_5XX, which
//     cover the authorizer's UNAUTHORIZED and ACCESS_DENIED, and every
//     other gateway response already defined) carry the origin, so the
//     console can read a 401, 403 or 5xx;
//   - the API's functions get CONSOLE_ORIGIN, for their own answers.
func addConsoleCORS(s *Stack, origin string) {
	api := s.API.API
	methods := map[string][]string{}
	resources := map[string]awsapigateway.IResource{}
	for _, m := range *api.Methods() {
		r := m.Resource()
		p := *r.Path()
		if !slices.Contains(methods[p], *m.HttpMethod()) {
			methods[p] = append(methods[p], *m.HttpMethod())
		}
		resources[p] = r
	}
	for _, p := range sortedKeys(methods) {
		if slices.Contains(methods[p], "OPTIONS") {
			continue // the route table answers OPTIONS itself
		}
		ms := append(slices.Sorted(slices.Values(methods[p])), "OPTIONS")
		pre := resources[p].AddCorsPreflight(&awsapigateway.CorsOptions{
			AllowOrigins: jsii.Strings(origin),
			AllowHeaders: jsii.Strings(corsAllowedHeaders...),
			AllowMethods: jsii.Strings(ms...),
			MaxAge:       awscdk.Duration_Seconds(jsii.Number(corsMaxAgeSeconds)),
		})
		suppressPreflight(pre)
	}

	allowOrigin := map[string]*string{"Access-Control-Allow-Origin": jsii.String(corsOrigin(origin))}
	// Gateway responses defined before (the JSON 404) replace the defaults
	// for their type, so they get the header too.
	for _, child := range *api.Node().Children() {
		if cfn, ok := child.Node().DefaultChild().(awscdk.CfnResource); ok && *cfn.CfnResourceType() == "AWS::ApiGateway::GatewayResponse" {
			cfn.AddPropertyOverride(jsii.String(`ResponseParameters.gatewayresponse\.header\.Access-Control-Allow-Origin`), jsii.String(corsOrigin(origin)))
		}
	}
	api.AddGatewayResponse(jsii.String("Default4xx"), &awsapigateway.GatewayResponseOptions{
		Type: awsapigateway.ResponseType_DEFAULT_4XX(), ResponseHeaders: &allowOrigin,
	})
	api.AddGatewayResponse(jsii.String("Default5xx"), &awsapigateway.GatewayResponseOptions{
		Type: awsapigateway.ResponseType_DEFAULT_5XX(), ResponseHeaders: &allowOrigin,
	})

	for _, name := range consoleFunctionNames(s) {
		s.Functions.ByName[name].AddEnvironment(jsii.String(config.EnvConsoleOrigin), jsii.String(origin), nil)
	}
}

// consoleFunctionNames are the functions behind the REST API: every
// function but the authorizer (which answers API Gateway, not the browser)
// and serve (behind the ALB, not called by the console).
func consoleFunctionNames(s *Stack) []string {
	var out []string
	for _, name := range sortedKeys(s.Functions.ByName) {
		if name != routes.FnAuthorizer && name != routes.FnServe {
			out = append(out, name)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
