package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/routes"
	"github.com/llmgw/apitokens/pkg/schema"
)

// Synthesis is slow (seconds per stack), so each configuration below is
// synthesized once and shared by every test that inspects it.

const (
	testSecretARN   = "arn:aws:secretsmanager:us-east-1:123456789012:secret:litellm-key-AbCdEf"
	testCertARN     = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
	testListenerARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/lisa-alb/0123456789abcdef/0123456789abcdef"
	testWebACLARN   = "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/llm/abcd1234"
	// CloudFront takes certificates from us-east-1 only.
	testConsoleCertARN = "arn:aws:acm:us-east-1:123456789012:certificate/66666666-7777-8888-9999-000000000000"
)

// baseYAML is everything but the roles, apiTokens and network sections,
// which the variants add.
const baseYAML = `
deploymentName: lisa
deploymentStage: prod
region: us-east-1
logLevel: info
authConfig:
  authority: https://idp.example.com/realms/lisa
  clientId: lisa-client
  adminGroup: lisa-admins
  userGroup: lisa-users
  apiGroup: lisa-api-users
  jwtGroupsProperty: realm_access.roles
serve:
  upstreamUrl: https://litellm.example.com/
  upstreamApiKeySecretArn: ` + testSecretARN + `
  upstreamTimeoutSeconds: 200
  modelPermissions:
    mistral-7b: [lisa-users]
    claude: [lisa-api-users, lisa-admins]
`

// Issuers whose identifier ends in "/": AUTHORITY must keep it, since the
// tokens' "iss" is compared exactly.
const (
	auth0Authority   = "https://tenant.auth0.com/"
	entraV1Authority = "https://sts.windows.net/00000000-0000-0000-0000-000000000000/"
)

// withAuthority replaces baseYAML's authConfig.authority.
func withAuthority(yaml, authority string) string {
	return strings.Replace(yaml, "authority: https://idp.example.com/realms/lisa", "authority: "+authority, 1)
}

// withServe adds keys to baseYAML's serve section.
func withServe(yaml, keys string) string {
	return strings.Replace(yaml, "  upstreamTimeoutSeconds: 200\n", "  upstreamTimeoutSeconds: 200"+keys, 1)
}

// limitsYAML sets every key of the limits section; the default and
// container variants share it, so serve's environment is the same in
// both modes.
const limitsYAML = `
limits:
  defaultTokenLimits:
    requestsPerMinute: 60
    tokensPerDay: 1000000
  groupTokenLimits:
    lisa-api-users:
      requestsPerMinute: 600
      tokensPerMonth: 1e8
      budgetPerMonth: 250.5
    lisa-users: {}
  global:
    requestsPerMinute: 5000
  modelPrices:
    claude: {input: 3, output: 15}
    mistral-7b: {input: 0.15, output: 0.6}
`

// limitsJSON are limitsYAML's values as the functions read them.
var limitsJSON = map[string]string{
	config.EnvDefaultTokenLimits: `{"requestsPerMinute":60,"tokensPerDay":1000000}`,
	config.EnvGroupTokenLimits:   `{"lisa-api-users":{"requestsPerMinute":600,"tokensPerMonth":100000000,"budgetPerMonth":250.5},"lisa-users":{}}`,
	config.EnvGlobalLimits:       `{"requestsPerMinute":5000}`,
	config.EnvModelPrices:        `{"claude":{"input":3,"output":15},"mistral-7b":{"input":0.15,"output":0.6}}`,
}

var variants = map[string]string{
	// A new VPC and ALB with HTTPS, everything created; every limit set.
	"default": baseYAML + limitsYAML + `
apiTokens:
  defaultTokenDays: 30
  maxTokenDays: 180
  allowUserManagedTokens: false
  tokenCacheSeconds: 5
network:
  certificateArn: ` + testCertARN + `
`,
	// Role override by name, no certificate, API Gateway caching on, a
	// destroyable test stage, an Auth0 issuer (its "iss" ends in "/").
	"override": withAuthority(baseYAML, auth0Authority) + `
removalPolicy: destroy
roles:
  ApiTokensApiRole: CustomApiTokensRole
apiTokens:
  authorizerCacheSeconds: 30
network:
  allowedCidrs: [10.0.0.0/8]
`,
	// A rule on an existing HTTPS listener; role override by ARN; an
	// Entra ID v1 issuer (its "iss" ends in "/").
	"listener": withServe(withAuthority(baseYAML, entraV1Authority), `
  vpc:
    enabled: true
    vpcId: vpc-0fedcba9876543210
    subnetIds: [subnet-0ccccccccccccccc1, subnet-0ccccccccccccccc2]
    securityGroupIds: [sg-0ddddddddddddddd1]
`) + `
roles:
  ApiTokensApiRole: arn:aws:iam::123456789012:role/CustomApiTokensRole
network:
  listenerRulePriority: 42
  existingListener:
    arn: ` + testListenerARN + `
    securityGroupId: sg-0123456789abcdef0
    dnsName: lisa-alb-1.us-east-1.elb.amazonaws.com
console:
  enabled: false
`,
	// The serve function in the new VPC, next to a private plain-http
	// upstream; every optional function setting set; a global limit
	// only, usage tracking off, failing open, a short usage retention.
	"private": withAuthority(strings.NewReplacer(
		"  jwtGroupsProperty: realm_access.roles\n", "  jwtGroupsProperty: realm_access.roles\n  jwtUsernameProperty: sub\n",
		"  upstreamUrl: https://litellm.example.com/\n", "  upstreamUrl: http://10.0.12.7:4000/v1\n  allowInsecureUpstream: true\n  modelPermissionsDefault: deny\n",
	).Replace(withServe(baseYAML, "\n  vpc:\n    enabled: true\n")), auth0Authority) + `
apiTokens:
  createCloudWatchRole: true
limits:
  global:
    requestsPerDay: 100000
  failOpen: true
usage:
  tracking: false
  retentionDays: 30
console:
  domainName: tokens.example.com
  certificateArn: ` + testConsoleCertARN + `
  priceClass: PriceClass_100
  serveUrl: https://llm.example.com/v2/serve/
  identityProviderOrigins: [https://lisa.auth.us-east-1.amazoncognito.com]
functions:
  serve:
    reservedConcurrency: 50
  authorizer:
    reservedConcurrency: 20
network:
  certificateArn: ` + testCertARN + `
`,
	// A new ALB in an existing VPC, with WAF; prefixed tokens, no
	// lastUsedAt, a short audit retention.
	"vpc": baseYAML + `
wafWebAclArn: ` + testWebACLARN + `
apiTokens:
  auditRetentionDays: 90
  lastUsedResolutionSeconds: 0
  tokenFormat: prefixed
  tokenPrefix: acme
network:
  certificateArn: ` + testCertARN + `
  internetFacing: false
  allowedCidrs: [10.0.0.0/8]
  vpcId: vpc-0123456789abcdef0
  subnetIds: [subnet-0aaaaaaaaaaaaaaaa, subnet-0bbbbbbbbbbbbbbbb]
  availabilityZones: [us-east-1a, us-east-1b]
`,
}

// variantNames lists every variant, in a stable order.
func variantNames() []string {
	names := make([]string, 0, len(variants))
	for v := range variants {
		names = append(names, v)
	}
	return sortedCopy(names)
}

// synthesized is one variant's stack and its template.
type synthesized struct {
	cfg    *Config
	outdir string
	stack  *Stack
	tmpl   assertions.Template
	json   map[string]any
	// nagErrors and warnings are annotation messages, "path: message".
	nagErrors, warnings, infos []string
}

var (
	synthMu sync.Mutex
	synths  = map[string]*synthesized{}
)

// synth builds the variant once per test binary.
func synth(t *testing.T, variant string) *synthesized {
	t.Helper()
	synthMu.Lock()
	defer synthMu.Unlock()
	if s, ok := synths[variant]; ok {
		return s
	}
	cfg, err := ParseConfig(variant, []byte(variants[variant]))
	if err != nil {
		t.Fatalf("variant %s: %v", variant, err)
	}
	// The cloud assembly outlives the test that first synthesizes a
	// variant: the console tests read the staged config.json from it.
	outdir, err := os.MkdirTemp(testBuildDir, "cdk.out-"+variant+"-")
	if err != nil {
		t.Fatal(err)
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir)})
	AddChecks(app, false)
	st := BuildStack(app, cfg, testBuildDir)
	s := &synthesized{cfg: cfg, outdir: outdir, stack: st, tmpl: assertions.Template_FromStack(st.Stack, nil)}
	s.json = *s.tmpl.ToJSON()
	// Template_FromStack synthesized the app, so the aspects (cdk-nag) have
	// run and left their findings as construct metadata.
	for _, c := range *st.Stack.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		for _, m := range *c.Node().Metadata() {
			msg := fmt.Sprintf("%s: %v", *c.Node().Path(), m.Data)
			switch *m.Type {
			case "aws:cdk:error":
				s.nagErrors = append(s.nagErrors, msg)
			case "aws:cdk:warning":
				s.warnings = append(s.warnings, msg)
			case "aws:cdk:info":
				s.infos = append(s.infos, msg)
			}
		}
	}
	synths[variant] = s
	return s
}

// check runs a CDK assertion, which panics on mismatch, as a test error.
func check(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	f()
}

// resources returns the template's resources of type typ by logical id.
func (s *synthesized) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range s.json["Resources"].(map[string]any) {
		r := r.(map[string]any)
		if r["Type"] == typ {
			out[id] = r
		}
	}
	return out
}

// props returns a resource's Properties.
func props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

// logicalID is the template id of construct c (its default child).
func (s *synthesized) logicalID(c constructs.IConstruct) string {
	el := c.Node().DefaultChild().(awscdk.CfnElement)
	return (s.stack.Stack.Resolve(s.stack.Stack.GetLogicalId(el))).(string)
}

// jsonString renders v compactly, for substring checks on intrinsics.
func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func ref(id string) map[string]any    { return map[string]any{"Ref": id} }
func getAtt(id, a string) []any       { return []any{id, a} }
func same(a, b any) bool              { return jsonString(a) == jsonString(b) }
func refersTo(v any, id string) bool  { return strings.Contains(jsonString(v), `"`+id+`"`) }
func arnOf(id string) map[string]any  { return map[string]any{"Fn::GetAtt": getAtt(id, "Arn")} }
func sortedCopy(in []string) []string { out := slices.Clone(in); sort.Strings(out); return out }

func toStrings(v any) []string {
	var out []string
	for _, x := range listOf(v) {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func listOf(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// --- Behaviour 1: the template ------------------------------------------------

func TestTableIsBuiltFromSchema(t *testing.T) {
	s := synth(t, "default")
	gsis := []any{}
	for _, ix := range schema.Tokens.Indexes {
		gsis = append(gsis, map[string]any{
			"IndexName":  ix.Name,
			"KeySchema":  []any{map[string]any{"AttributeName": ix.PartitionKey, "KeyType": "HASH"}},
			"Projection": map[string]any{"ProjectionType": "ALL"},
		})
	}
	check(t, "token table", func() {
		s.tmpl.HasResource(jsii.String("AWS::DynamoDB::Table"), map[string]any{
			"DeletionPolicy":      "Retain",
			"UpdateReplacePolicy": "Retain",
			"Properties": map[string]any{
				"TableName":                        schema.TableName("lisa"),
				"KeySchema":                        []any{map[string]any{"AttributeName": schema.AttrToken, "KeyType": "HASH"}},
				"GlobalSecondaryIndexes":           gsis,
				"BillingMode":                      "PAY_PER_REQUEST",
				"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
				"DeletionProtectionEnabled":        true,
				"SSESpecification":                 map[string]any{"SSEEnabled": true},
			},
		})
	})
	check(t, "token, audit and usage tables", func() { s.tmpl.ResourceCountIs(jsii.String("AWS::DynamoDB::Table"), jsii.Number(3)) })
	// Expired tokens stay listable; guard items must never expire.
	if _, ok := props(s.resources("AWS::DynamoDB::Table")[s.logicalID(s.stack.Table.Table)])["TimeToLiveSpecification"]; ok {
		t.Errorf("the token table must not have a TTL attribute")
	}
}

// TestAuditTableIsBuiltFromSchema: keys, indexes (each with its sort key),
// TTL, billing, recovery and encryption come from schema.Audit and the
// token table's rules; the removal policy follows removalPolicy.
func TestAuditTableIsBuiltFromSchema(t *testing.T) {
	key := func(pk, sk string) []any {
		return []any{map[string]any{"AttributeName": pk, "KeyType": "HASH"}, map[string]any{"AttributeName": sk, "KeyType": "RANGE"}}
	}
	gsis := []any{}
	for _, ix := range schema.Audit.Indexes {
		if ix.SortKey == "" {
			t.Fatalf("schema.Audit index %s has no sort key; the events are listed newest first by it", ix.Name)
		}
		gsis = append(gsis, map[string]any{
			"IndexName":  ix.Name,
			"KeySchema":  key(ix.PartitionKey, ix.SortKey),
			"Projection": map[string]any{"ProjectionType": "ALL"},
		})
	}
	s := synth(t, "default")
	id := s.logicalID(s.stack.AuditTable.Table)
	check(t, "audit table", func() {
		s.tmpl.HasResource(jsii.String("AWS::DynamoDB::Table"), map[string]any{
			"DeletionPolicy":      "Retain",
			"UpdateReplacePolicy": "Retain",
			"Properties": assertions.Match_ObjectLike(&map[string]any{
				"TableName":                        schema.AuditTableName("lisa"),
				"KeySchema":                        key(schema.Audit.PartitionKey, schema.Audit.SortKey),
				"GlobalSecondaryIndexes":           gsis,
				"BillingMode":                      "PAY_PER_REQUEST",
				"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
				"DeletionProtectionEnabled":        true,
				"SSESpecification":                 map[string]any{"SSEEnabled": true},
				"TimeToLiveSpecification":          map[string]any{"AttributeName": schema.Audit.TTL, "Enabled": true},
			}),
		})
	})
	p := props(s.resources("AWS::DynamoDB::Table")[id])
	if p["TableName"] != schema.AuditTableName("lisa") {
		t.Fatalf("the audit table is %v, want %s", p["TableName"], schema.AuditTableName("lisa"))
	}
	var defs []string
	for _, d := range listOf(p["AttributeDefinitions"]) {
		m := d.(map[string]any)
		defs = append(defs, m["AttributeName"].(string)+":"+m["AttributeType"].(string))
	}
	want := []string{schema.AttrEventSubject + ":S", schema.AttrEventKey + ":S"}
	for _, ix := range schema.Audit.Indexes {
		want = append(want, ix.PartitionKey+":S")
	}
	if !slices.Equal(sortedCopy(defs), sortedCopy(want)) {
		t.Errorf("audit attribute definitions %v, want %v", defs, want)
	}

	d := synth(t, "override") // removalPolicy: destroy
	check(t, "destroyable audit table", func() {
		d.tmpl.HasResource(jsii.String("AWS::DynamoDB::Table"), map[string]any{
			"DeletionPolicy": "Delete",
			"Properties": assertions.Match_ObjectLike(&map[string]any{
				"TableName":                 schema.AuditTableName("lisa"),
				"DeletionProtectionEnabled": false,
			}),
		})
	})
}

func TestDestroyStageDropsRetention(t *testing.T) {
	s := synth(t, "override")
	check(t, "destroyable table", func() {
		s.tmpl.HasResource(jsii.String("AWS::DynamoDB::Table"), map[string]any{
			"DeletionPolicy": "Delete",
			"Properties": assertions.Match_ObjectLike(&map[string]any{
				"DeletionProtectionEnabled":        false,
				"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
			}),
		})
	})
}

// apiResourcePaths maps AWS::ApiGateway::Resource ids to their full paths.
func (s *synthesized) apiResourcePaths() map[string]string {
	res := s.resources("AWS::ApiGateway::Resource")
	paths := map[string]string{}
	var path func(id string) string
	path = func(id string) string {
		if p, ok := paths[id]; ok {
			return p
		}
		p := props(res[id])
		parent := ""
		if r, ok := p["ParentId"].(map[string]any)["Ref"].(string); ok {
			parent = path(r)
		}
		paths[id] = parent + "/" + p["PathPart"].(string)
		return paths[id]
	}
	for id := range res {
		path(id)
	}
	return paths
}

func TestEveryRouteUsesTheAuthorizer(t *testing.T) {
	s := synth(t, "default")
	authID := s.logicalID(s.stack.API.Authorizer)
	paths := s.apiResourcePaths()
	methods := s.resources("AWS::ApiGateway::Method")
	for id, m := range methods {
		// CORS preflights for the console (TestCORSPreflight).
		if props(m)["HttpMethod"] == "OPTIONS" {
			delete(methods, id)
		}
	}
	if len(methods) != len(routes.APITokens) {
		t.Errorf("template has %d methods, routes.APITokens has %d: every method must come from the route table", len(methods), len(routes.APITokens))
	}
	found := map[string]bool{}
	for id, m := range methods {
		p := props(m)
		resID, _ := p["ResourceId"].(map[string]any)["Ref"].(string)
		key := p["HttpMethod"].(string) + " " + paths[resID]
		found[key] = true
		if p["AuthorizationType"] != "CUSTOM" || !same(p["AuthorizerId"], ref(authID)) {
			t.Errorf("%s (%s) does not use the REQUEST authorizer: AuthorizationType=%v AuthorizerId=%v", key, id, p["AuthorizationType"], p["AuthorizerId"])
		}
		var want string
		for _, r := range routes.APITokens {
			if r.Method+" "+r.Resource == key {
				want = s.logicalID(s.stack.Functions.ByName[r.Function])
			}
		}
		in := p["Integration"].(map[string]any)
		if want == "" || in["Type"] != "AWS_PROXY" || !refersTo(in["Uri"], want) {
			t.Errorf("%s integrates %v, want an AWS_PROXY integration of %s", key, jsonString(in["Uri"]), want)
		}
	}
	for _, r := range routes.APITokens {
		if !found[r.Method+" "+r.Resource] {
			t.Errorf("route %s %s is missing from the REST API", r.Method, r.Resource)
		}
	}

	auth := props(s.resources("AWS::ApiGateway::Authorizer")[authID])
	if auth["Type"] != "REQUEST" || auth["AuthorizerResultTtlInSeconds"] != float64(0) {
		t.Errorf("authorizer: want an uncached REQUEST authorizer, got %v", jsonString(auth))
	}
	// With identity sources, API Gateway answers 401 itself when one is
	// missing, so Api-Key-only requests would never reach the authorizer.
	if _, ok := auth["IdentitySource"]; ok {
		t.Errorf("uncached authorizer has IdentitySource %v; Api-Key-only calls would be refused before it runs", auth["IdentitySource"])
	}
	if !refersTo(auth["AuthorizerUri"], s.logicalID(s.stack.Functions.ByName[routes.FnAuthorizer])) {
		t.Errorf("authorizer does not invoke the authorizer function: %v", jsonString(auth["AuthorizerUri"]))
	}
}

// TestSettingsRoutes: GET and PUT /settings exist on the REST API, behind
// the REQUEST authorizer, and reach the settings function, which runs as
// ApiTokensApiRole (GetItem and PutItem on the table).
func TestSettingsRoutes(t *testing.T) {
	s := synth(t, "default")
	fn := s.stack.Functions.ByName[routes.FnSettings]
	if fn == nil {
		t.Fatal("no settings function")
	}
	fnID := s.logicalID(fn)
	authID := s.logicalID(s.stack.API.Authorizer)
	paths := s.apiResourcePaths()
	got := map[string]bool{}
	for _, m := range s.resources("AWS::ApiGateway::Method") {
		p := props(m)
		resID, _ := p["ResourceId"].(map[string]any)["Ref"].(string)
		if paths[resID] != "/settings" || p["HttpMethod"] == "OPTIONS" { // CORS preflight: tested with the console
			continue
		}
		in := p["Integration"].(map[string]any)
		if p["AuthorizationType"] != "CUSTOM" || !same(p["AuthorizerId"], ref(authID)) || in["Type"] != "AWS_PROXY" || !refersTo(in["Uri"], fnID) {
			t.Errorf("%s /settings: authorizer %v %v, integration %v; want the REQUEST authorizer and the settings function",
				p["HttpMethod"], p["AuthorizationType"], jsonString(p["AuthorizerId"]), jsonString(in["Uri"]))
		}
		got[p["HttpMethod"].(string)] = true
	}
	if !got["GET"] || !got["PUT"] || len(got) != 2 {
		t.Errorf("/settings has methods %v, want exactly GET and PUT", got)
	}
	role := props(s.resources("AWS::Lambda::Function")[fnID])["Role"]
	if !same(role, arnOf(s.logicalID(s.stack.Functions.TokenRole))) {
		t.Errorf("settings runs as %v, want ApiTokensApiRole", jsonString(role))
	}
	actions := s.grantsOf(s.logicalID(s.stack.Functions.TokenRole))[jsonString(arnOf(s.logicalID(s.stack.Table.Table)))]
	for _, a := range []string{"dynamodb:GetItem", "dynamodb:PutItem"} {
		if !slices.Contains(actions, a) {
			t.Errorf("ApiTokensApiRole lacks %s on the table: %v", a, actions)
		}
	}
}

func TestAuthorizerCacheKeysOnAuthorization(t *testing.T) {
	s := synth(t, "override")
	check(t, "cached authorizer", func() {
		s.tmpl.HasResourceProperties(jsii.String("AWS::ApiGateway::Authorizer"), map[string]any{
			"Type":                         "REQUEST",
			"AuthorizerResultTtlInSeconds": 30,
			"IdentitySource":               "method.request.header.Authorization",
		})
	})
	if !containsAny(s.warnings, "apiTokens.authorizerCacheSeconds") {
		t.Errorf("want a synth warning about Api-Key-only calls with caching on, got %v", s.warnings)
	}
}

func TestStage(t *testing.T) {
	s := synth(t, "default")
	check(t, "stage", func() {
		s.tmpl.HasResourceProperties(jsii.String("AWS::ApiGateway::Stage"), map[string]any{
			"StageName":        "prod",
			"AccessLogSetting": assertions.Match_ObjectLike(&map[string]any{"Format": assertions.Match_StringLikeRegexp(jsii.String(`"requestId":"\$context.requestId"`))}),
			"MethodSettings":   []any{assertions.Match_ObjectLike(&map[string]any{"DataTraceEnabled": false, "LoggingLevel": "ERROR", "ThrottlingRateLimit": defaultThrottleRate, "ThrottlingBurstLimit": defaultThrottleBurst})},
		})
	})
	check(t, "regional API", func() {
		s.tmpl.HasResourceProperties(jsii.String("AWS::ApiGateway::RestApi"), map[string]any{
			"EndpointConfiguration": map[string]any{"Types": []any{"REGIONAL"}},
		})
	})
	check(t, "JSON 404 for unknown routes", func() {
		s.tmpl.HasResourceProperties(jsii.String("AWS::ApiGateway::GatewayResponse"), map[string]any{
			"ResponseType": "MISSING_AUTHENTICATION_TOKEN",
			"StatusCode":   "404",
		})
	})
}

func TestFunctions(t *testing.T) {
	s := synth(t, "default")
	fns := s.resources("AWS::Lambda::Function")
	for id := range fns {
		// CDK's handler that deploys the console's files.
		if strings.HasPrefix(id, "CustomCDKBucketDeployment") {
			delete(fns, id)
		}
	}
	if len(fns) != len(functionNames) {
		t.Errorf("want %d functions (%s), got %d", len(functionNames), strings.Join(functionNames, ", "), len(fns))
	}
	logGroups := s.resources("AWS::Logs::LogGroup")
	for name, fn := range s.stack.Functions.ByName {
		p := props(fns[s.logicalID(fn)])
		if p["Runtime"] != "provided.al2023" || p["Handler"] != "bootstrap" || !same(p["Architectures"], []any{"arm64"}) {
			t.Errorf("%s: want provided.al2023, bootstrap, arm64; got %v %v %v", name, p["Runtime"], p["Handler"], p["Architectures"])
		}
		lgRef, _ := p["LoggingConfig"].(map[string]any)["LogGroup"].(map[string]any)["Ref"].(string)
		lg, ok := logGroups[lgRef]
		if !ok {
			t.Errorf("%s: no log group of its own (LoggingConfig %v)", name, jsonString(p["LoggingConfig"]))
		} else if props(lg)["RetentionInDays"] != float64(defaultLogRetentionDays) {
			t.Errorf("%s: log retention %v, want %d", name, props(lg)["RetentionInDays"], defaultLogRetentionDays)
		}
		if p["Timeout"] == nil || p["MemorySize"] == nil {
			t.Errorf("%s: timeout and memory must be sized explicitly", name)
		}
	}
	serve := props(fns[s.logicalID(s.stack.Functions.ByName[routes.FnServe])])
	if serve["Timeout"] != float64(200+15) {
		t.Errorf("serve timeout %v, want the upstream timeout + 15", serve["Timeout"])
	}
}

// envOf returns a function's environment as strings (the table name is a Ref).
func (s *synthesized) envOf(name string) map[string]string {
	fn := props(s.resources("AWS::Lambda::Function")[s.logicalID(s.stack.Functions.ByName[name])])
	out := map[string]string{}
	vars, _ := fn["Environment"].(map[string]any)["Variables"].(map[string]any)
	for k, v := range vars {
		if str, ok := v.(string); ok {
			out[k] = str
		} else {
			out[k] = jsonString(v)
		}
	}
	return out
}

func TestEnvironment(t *testing.T) {
	s := synth(t, "default")
	tableRef := jsonString(ref(s.logicalID(s.stack.Table.Table)))
	common := map[string]string{
		config.EnvTableName:         tableRef,
		config.EnvAuthority:         "https://idp.example.com/realms/lisa",
		config.EnvClientID:          "lisa-client",
		config.EnvAdminGroup:        "lisa-admins",
		config.EnvUserGroup:         "lisa-users",
		config.EnvAPIGroup:          "lisa-api-users",
		config.EnvJWTGroupsProperty: "realm_access.roles",
		config.EnvLogLevel:          "info",
		config.EnvDefaultTokenDays:  "30",
		config.EnvMaxTokenDays:      "180",
		config.EnvAllowUserManaged:  "false",
	}
	common[envTokenFormat] = TokenFormatHex
	cache := map[string]string{config.EnvTokenCacheSeconds: "5"}
	auditRef := jsonString(ref(s.logicalID(s.stack.AuditTable.Table)))
	reader := map[string]string{config.EnvAuditTableName: auditRef}
	writer := map[string]string{config.EnvAuditTableName: auditRef, config.EnvAuditRetentionDays: "365"}
	lastUsed := map[string]string{config.EnvLastUsedResolution: "300"}
	// The API's functions answer the console's browser (TestConsoleOriginOnTokenFunctions).
	tokenFn := withEnv(common, map[string]string{config.EnvConsoleOrigin: jsonString(map[string]any{"Fn::Join": []any{"", []any{"https://", map[string]any{"Fn::GetAtt": []any{s.logicalID(s.stack.Console.Distribution), "DomainName"}}}}})})
	serve := map[string]string{
		config.EnvServeUpstreamURL:    "https://litellm.example.com",
		config.EnvServeUpstreamKeyARN: testSecretARN,
		config.EnvServeTimeoutSeconds: "200",
		config.EnvModelPermissions:    `{"claude":["lisa-api-users","lisa-admins"],"mistral-7b":["lisa-users"]}`,
	}
	// Effective limits: the token functions that show or check them, and
	// usage; serve reads everything about limits and usage.
	policy := map[string]string{config.EnvDefaultTokenLimits: limitsJSON[config.EnvDefaultTokenLimits], config.EnvGroupTokenLimits: limitsJSON[config.EnvGroupTokenLimits]}
	usageRef := jsonString(ref(s.logicalID(s.stack.UsageTable.Table)))
	usageFn := withEnv(policy, map[string]string{config.EnvUsageTableName: usageRef})
	serve = withEnv(withEnv(serve, limitsJSON), map[string]string{
		config.EnvUsageTableName:     usageRef,
		config.EnvUsageRetentionDays: "400",
		config.EnvUsageTracking:      "true",
		config.EnvLimitsFailOpen:     "false",
	})
	want := map[string]map[string]string{
		routes.FnCreate:     withEnv(withEnv(withEnv(tokenFn, cache), writer), policy),
		routes.FnList:       withEnv(withEnv(tokenFn, cache), policy),
		routes.FnGet:        withEnv(withEnv(tokenFn, cache), policy),
		routes.FnDelete:     withEnv(withEnv(tokenFn, cache), writer),
		routes.FnSettings:   withEnv(withEnv(tokenFn, cache), writer),
		routes.FnUpdate:     withEnv(withEnv(withEnv(tokenFn, cache), writer), policy),
		routes.FnRotate:     withEnv(withEnv(tokenFn, cache), writer),
		routes.FnEvents:     withEnv(withEnv(tokenFn, cache), reader),
		routes.FnUsage:      withEnv(withEnv(tokenFn, cache), usageFn),
		routes.FnAuthorizer: withEnv(withEnv(common, cache), lastUsed),
		routes.FnServe:      withEnv(withEnv(withEnv(common, cache), serve), lastUsed),
	}
	if len(want) != len(functionNames) {
		t.Errorf("the test covers %d functions, want all %d", len(want), len(functionNames))
	}
	for name, w := range want {
		got := s.envOf(name)
		for k, v := range w {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q", name, k, got[k], v)
			}
		}
		for k := range got {
			if _, ok := w[k]; !ok {
				t.Errorf("%s: unexpected variable %s", name, k)
			}
		}
		// Secrets travel by ARN only.
		if _, ok := got[config.EnvServeUpstreamKey]; ok {
			t.Errorf("%s: %s must never be set in the template", name, config.EnvServeUpstreamKey)
		}
	}
}

// TestAuthorityIsPassedVerbatim: a trailing "/" is part of some issuers'
// identifiers (Auth0, Entra ID v1); dropping it would refuse every JWT.
func TestAuthorityIsPassedVerbatim(t *testing.T) {
	for v, want := range map[string]string{"default": "https://idp.example.com/realms/lisa", "override": auth0Authority, "listener": entraV1Authority} {
		s := synth(t, v)
		for name := range s.stack.Functions.ByName {
			if got := s.envOf(name)[config.EnvAuthority]; got != want {
				t.Errorf("%s: %s has %s = %q, want %q exactly as configured", v, name, config.EnvAuthority, got, want)
			}
		}
	}
}

// TestUsernameClaimAndModelDefault: the optional settings reach the
// functions that read them, and only when set.
func TestUsernameClaimAndModelDefault(t *testing.T) {
	s := synth(t, "private")
	for name := range s.stack.Functions.ByName {
		env := s.envOf(name)
		if got := env[config.EnvJWTUsernameProperty]; got != "sub" {
			t.Errorf("%s: %s = %q, want sub", name, config.EnvJWTUsernameProperty, got)
		}
		want := ""
		if name == routes.FnServe {
			want = config.ModelsDeny
		}
		if got := env[config.EnvModelPermsDefault]; got != want {
			t.Errorf("%s: %s = %q, want %q", name, config.EnvModelPermsDefault, got, want)
		}
	}
	d := synth(t, "default")
	for name := range d.stack.Functions.ByName {
		for _, k := range []string{config.EnvJWTUsernameProperty, config.EnvModelPermsDefault} {
			if v, ok := d.envOf(name)[k]; ok {
				t.Errorf("default: %s has %s = %q; unset keys must leave the variable out", name, k, v)
			}
		}
	}
}

// TestReservedConcurrency: set per function where configured, absent
// (unreserved) elsewhere.
func TestReservedConcurrency(t *testing.T) {
	for v, want := range map[string]map[string]any{
		"private": {routes.FnServe: float64(50), routes.FnAuthorizer: float64(20)},
		"default": {},
	} {
		s := synth(t, v)
		fns := s.resources("AWS::Lambda::Function")
		for name, fn := range s.stack.Functions.ByName {
			if got := props(fns[s.logicalID(fn)])["ReservedConcurrentExecutions"]; got != want[name] {
				t.Errorf("%s: %s ReservedConcurrentExecutions = %v, want %v", v, name, got, want[name])
			}
		}
	}
}

// TestCloudWatchRoleOnlyWhenAsked: AWS::ApiGateway::Account is one setting
// per account and region, shared by every API there; a stack must not take
// it over unless told to.
func TestCloudWatchRoleOnlyWhenAsked(t *testing.T) {
	d := synth(t, "default")
	if n := len(d.resources("AWS::ApiGateway::Account")); n != 0 {
		t.Errorf("default: %d AWS::ApiGateway::Account resources, want none unless apiTokens.createCloudWatchRole is true", n)
	}
	if !containsAny(d.infos, "apiTokens.createCloudWatchRole") {
		t.Errorf("default: want a synth message that stage logging needs the account's API Gateway CloudWatch role, got %v", d.infos)
	}
	p := synth(t, "private")
	check(t, "account CloudWatch role when asked for", func() {
		p.tmpl.ResourceCountIs(jsii.String("AWS::ApiGateway::Account"), jsii.Number(1))
	})
	if containsAny(p.infos, "apiTokens.createCloudWatchRole") {
		t.Errorf("private: the role is created; no message expected, got %v", p.infos)
	}
}

// TestServeTargetsGetMultiValueHeaders: in single-value mode the ALB passes
// only the last of repeated headers, so a request with two Authorization
// or Api-Key headers would look like one; the serve function must see them
// all to refuse it.
func TestServeTargetsGetMultiValueHeaders(t *testing.T) {
	for _, v := range variantNames() {
		if isContainerVariant(v) {
			continue // HTTP to the tasks carries every header as sent
		}
		s := synth(t, v)
		check(t, v+": lambda.multi_value_headers.enabled", func() {
			s.tmpl.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::TargetGroup"), map[string]any{
				"TargetType":            "lambda",
				"TargetGroupAttributes": assertions.Match_ArrayWith(&[]any{map[string]any{"Key": "lambda.multi_value_headers.enabled", "Value": "true"}}),
			})
		})
	}
}

// vpcConfigOf is a function's VpcConfig, nil outside a VPC.
func (s *synthesized) vpcConfigOf(name string) map[string]any {
	fn := props(s.resources("AWS::Lambda::Function")[s.logicalID(s.stack.Functions.ByName[name])])
	vc, _ := fn["VpcConfig"].(map[string]any)
	return vc
}

// eniStatements are the statements granting Lambda's VPC network interface
// actions.
func (s *synthesized) eniStatements() []statement {
	var out []statement
	for _, st := range s.statements() {
		if hasPrefix(st.actions, "ec2:") {
			out = append(out, st)
		}
	}
	return out
}

// TestServeInTheStacksVpc: serve.vpc.enabled with the VPC this stack
// creates: its isolated subnets, a security group of its own that may send
// anywhere, ENI permissions, and endpoints for what the function must reach.
func TestServeInTheStacksVpc(t *testing.T) {
	s := synth(t, "private")
	vc := s.vpcConfigOf(routes.FnServe)
	if vc == nil {
		t.Fatal("serve.vpc.enabled: the serve function has no VpcConfig")
	}
	isolated := 0
	for _, sub := range *s.stack.Serve.Vpc.IsolatedSubnets() {
		isolated++
		if !refersTo(vc["SubnetIds"], s.logicalID(sub)) {
			t.Errorf("serve VpcConfig.SubnetIds %v lacks the isolated subnet %s", jsonString(vc["SubnetIds"]), s.logicalID(sub))
		}
	}
	if n := len(listOf(vc["SubnetIds"])); n != isolated || isolated < 2 {
		t.Errorf("serve is in %d subnets, want the %d isolated ones (at least 2)", n, isolated)
	}
	sgs := listOf(vc["SecurityGroupIds"])
	if len(sgs) != 1 {
		t.Fatalf("serve security groups %v, want one of its own", jsonString(sgs))
	}
	sgID := sgs[0].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
	sg := props(s.resources("AWS::EC2::SecurityGroup")[sgID])
	if sg["SecurityGroupIngress"] != nil || !strings.Contains(jsonString(sg["SecurityGroupEgress"]), `"CidrIp":"0.0.0.0/0"`) {
		t.Errorf("serve security group: want no ingress and egress anywhere, got %v", jsonString(sg))
	}
	if sgID == s.logicalID(s.stack.Serve.SecurityGroup) {
		t.Errorf("serve shares the ALB's security group")
	}
	for name := range s.stack.Functions.ByName {
		if name != routes.FnServe && s.vpcConfigOf(name) != nil {
			t.Errorf("%s is in the VPC; only serve.vpc asks for that", name)
		}
	}
	// Endpoints: DynamoDB on the isolated subnets' route tables (no NAT),
	// and Secrets Manager, since the upstream key is read at start-up.
	endpoints := map[string]map[string]any{}
	for _, ep := range s.resources("AWS::EC2::VPCEndpoint") {
		p := props(ep)
		name := jsonString(p["ServiceName"])
		for _, svc := range []string{"dynamodb", "secretsmanager"} {
			if strings.Contains(name, "."+svc+`"`) {
				endpoints[svc] = p
			}
		}
	}
	if ep := endpoints["dynamodb"]; ep["VpcEndpointType"] != "Gateway" || len(listOf(ep["RouteTableIds"])) != isolated {
		t.Errorf("want a DynamoDB gateway endpoint on the %d isolated route tables, got %v", isolated, jsonString(ep))
	}
	if ep := endpoints["secretsmanager"]; ep["VpcEndpointType"] != "Interface" || ep["PrivateDnsEnabled"] != true || len(listOf(ep["SubnetIds"])) != isolated {
		t.Errorf("want a Secrets Manager interface endpoint with private DNS in the isolated subnets, got %v", jsonString(ep))
	}
	if len(s.resources("AWS::EC2::VPCEndpoint")) != 2 {
		t.Errorf("want exactly the two endpoints, got %d", len(s.resources("AWS::EC2::VPCEndpoint")))
	}
	roleID := props(s.resources("AWS::Lambda::Function")[s.logicalID(s.stack.Functions.ByName[routes.FnServe])])["Role"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
	enis := s.eniStatements()
	if len(enis) != 1 || !slices.Equal(sortedCopy(enis[0].actions), sortedCopy(vpcAccessActions)) {
		t.Fatalf("want one statement granting %v, got %v", vpcAccessActions, enis)
	}
	if pol := s.resources("AWS::IAM::Policy")[enis[0].where]; !refersTo(props(pol)["Roles"], roleID) {
		t.Errorf("ENI actions granted in %s, not to the serve role %s", enis[0].where, roleID)
	}
	if !containsAny(s.warnings, "serve.vpc") {
		t.Errorf("want a synth warning that the isolated subnets reach neither the internet nor the issuer, got %v", s.warnings)
	}
}

// TestServeInAnExistingNetwork: explicit subnets and security groups are
// used as given; nothing is created in a VPC this stack does not own.
func TestServeInAnExistingNetwork(t *testing.T) {
	s := synth(t, "listener")
	vc := s.vpcConfigOf(routes.FnServe)
	if !same(vc["SubnetIds"], []any{"subnet-0ccccccccccccccc1", "subnet-0ccccccccccccccc2"}) || !same(vc["SecurityGroupIds"], []any{"sg-0ddddddddddddddd1"}) {
		t.Errorf("serve VpcConfig %v, want the configured subnets and security group", jsonString(vc))
	}
	if n := len(s.resources("AWS::EC2::VPCEndpoint")); n != 0 {
		t.Errorf("%d VPC endpoints created in a VPC this stack does not own", n)
	}
	if len(s.eniStatements()) != 1 {
		t.Errorf("want the ENI statement for the serve role, got %v", s.eniStatements())
	}
	d := synth(t, "default")
	if d.vpcConfigOf(routes.FnServe) != nil || len(d.eniStatements()) != 0 || len(d.resources("AWS::EC2::VPCEndpoint")) != 0 {
		t.Errorf("default: serve must stay outside any VPC, with no ENI grants or endpoints")
	}
}

func TestServeRuleForwardsToServeFunction(t *testing.T) {
	s := synth(t, "default")
	tgID := s.logicalID(s.stack.Serve.TargetGroup)
	check(t, "target group", func() {
		s.tmpl.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::TargetGroup"), map[string]any{
			"TargetType": "lambda",
			"Targets":    []any{map[string]any{"Id": arnOf(s.logicalID(s.stack.Functions.ByName[routes.FnServe]))}},
		})
	})
	httpsID := ""
	for id, l := range s.resources("AWS::ElasticLoadBalancingV2::Listener") {
		if p := props(l); p["Protocol"] == "HTTPS" {
			httpsID = id
			if p["Port"] != float64(443) || !refersTo(p["Certificates"], testCertARN) {
				t.Errorf("HTTPS listener: want port 443 with the configured certificate, got %v", jsonString(p))
			}
		} else if p["Port"] != float64(80) || !strings.Contains(jsonString(p["DefaultActions"]), `"Type":"redirect"`) {
			t.Errorf("plain listener must only redirect to HTTPS, got %v", jsonString(p))
		}
	}
	check(t, "serve rule", func() {
		s.tmpl.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::ListenerRule"), map[string]any{
			"ListenerArn": ref(httpsID),
			"Priority":    defaultListenerRulePriority,
			"Conditions":  []any{map[string]any{"Field": "path-pattern", "PathPatternConfig": map[string]any{"Values": []any{routes.ServePathPattern}}}},
			"Actions":     []any{map[string]any{"Type": "forward", "TargetGroupArn": ref(tgID)}},
		})
	})
	for k, v := range map[string]string{
		"routing.http.drop_invalid_header_fields.enabled": "true",
		"idle_timeout.timeout_seconds":                    fmt.Sprint(s.cfg.Network.IdleTimeoutSeconds),
		"access_logs.s3.enabled":                          "true",
		"deletion_protection.enabled":                     "true",
	} {
		check(t, "ALB attribute "+k, func() {
			s.tmpl.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::LoadBalancer"), map[string]any{
				"Scheme":                 "internet-facing",
				"LoadBalancerAttributes": assertions.Match_ArrayWith(&[]any{map[string]any{"Key": k, "Value": v}}),
			})
		})
	}
	if s.cfg.Network.IdleTimeoutSeconds < s.cfg.ServeFunctionTimeoutSeconds() {
		t.Errorf("ALB idle timeout %d is shorter than the serve function timeout %d", s.cfg.Network.IdleTimeoutSeconds, s.cfg.ServeFunctionTimeoutSeconds())
	}
	check(t, "VPC flow logs", func() { s.tmpl.ResourceCountIs(jsii.String("AWS::EC2::FlowLog"), jsii.Number(1)) })
}

func TestInsecureUpstreamWarns(t *testing.T) {
	s := synth(t, "private")
	if !containsAny(s.warnings, "serve.allowInsecureUpstream") {
		t.Errorf("want a synth warning about the plain-http upstream, got %v", s.warnings)
	}
	// The serve function applies the same rule at start-up, so it is told.
	if got := s.envOf(routes.FnServe)[config.EnvServeAllowInsecure]; got != "true" {
		t.Errorf("serve: %s = %q, want true", config.EnvServeAllowInsecure, got)
	}
	s = synth(t, "default")
	if containsAny(s.warnings, "serve.allowInsecureUpstream") {
		t.Errorf("https upstream: unexpected warning in %v", s.warnings)
	}
	if got, ok := s.envOf(routes.FnServe)[config.EnvServeAllowInsecure]; ok {
		t.Errorf("https upstream: %s = %q, want unset", config.EnvServeAllowInsecure, got)
	}
}

func TestPlainHTTPWithoutCertificateWarns(t *testing.T) {
	s := synth(t, "override")
	listeners := s.resources("AWS::ElasticLoadBalancingV2::Listener")
	if len(listeners) != 1 {
		t.Fatalf("want one listener without a certificate, got %d", len(listeners))
	}
	for id, l := range listeners {
		if p := props(l); p["Protocol"] != "HTTP" || p["Port"] != float64(80) {
			t.Errorf("want the HTTP listener on 80, got %v", jsonString(p))
		}
		check(t, "rule on the HTTP listener", func() {
			s.tmpl.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::ListenerRule"), map[string]any{"ListenerArn": ref(id)})
		})
	}
	if !containsAny(s.warnings, "network.certificateArn is not set") {
		t.Errorf("want a synth warning about plain HTTP, got %v", s.warnings)
	}
	// Only the configured CIDR may connect.
	for id, sg := range s.resources("AWS::EC2::SecurityGroup") {
		for _, rule := range listOf(props(sg)["SecurityGroupIngress"]) {
			if r, ok := rule.(map[string]any); ok && r["CidrIp"] != "10.0.0.0/8" {
				t.Errorf("%s admits %v, want only network.allowedCidrs", id, r["CidrIp"])
			}
		}
	}
}

func TestExistingListenerGetsOnlyARule(t *testing.T) {
	s := synth(t, "listener")
	for _, typ := range []string{"AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::ElasticLoadBalancingV2::Listener", "AWS::EC2::VPC", "AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress", "AWS::S3::Bucket"} {
		if n := len(s.resources(typ)); n != 0 {
			t.Errorf("an existing listener must not create %s (got %d)", typ, n)
		}
	}
	check(t, "rule on the existing listener", func() {
		s.tmpl.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::ListenerRule"), map[string]any{
			"ListenerArn": testListenerARN,
			"Priority":    42,
			"Conditions":  []any{map[string]any{"Field": "path-pattern", "PathPatternConfig": map[string]any{"Values": []any{routes.ServePathPattern}}}},
			"Actions":     []any{map[string]any{"Type": "forward", "TargetGroupArn": ref(s.logicalID(s.stack.Serve.TargetGroup))}},
		})
	})
	check(t, "ALB DNS output from the config", func() {
		s.tmpl.HasOutput(jsii.String("AlbDnsName"), map[string]any{"Value": "lisa-alb-1.us-east-1.elb.amazonaws.com"})
	})
}

func TestExistingVpcAndWAF(t *testing.T) {
	s := synth(t, "vpc")
	if n := len(s.resources("AWS::EC2::VPC")); n != 0 {
		t.Errorf("an existing VPC must not be created again (got %d VPCs)", n)
	}
	check(t, "internal ALB in the configured subnets", func() {
		s.tmpl.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::LoadBalancer"), map[string]any{
			"Scheme":  "internal",
			"Subnets": []any{"subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"},
		})
	})
	check(t, "WAF on stage and ALB", func() {
		s.tmpl.ResourcePropertiesCountIs(jsii.String("AWS::WAFv2::WebACLAssociation"), map[string]any{"WebACLArn": testWebACLARN}, jsii.Number(2))
	})
}

func TestOutputs(t *testing.T) {
	s := synth(t, "default")
	for _, name := range []string{"ApiUrl", "AlbDnsName", "TableName", "AuditTableName", "UsageTableName", "ConsoleUrl"} {
		check(t, "output "+name, func() { s.tmpl.HasOutput(jsii.String(name), assertions.Match_AnyValue()) })
	}
	if outs := s.json["Outputs"].(map[string]any); len(outs) != 6 {
		t.Errorf("want exactly ApiUrl, AlbDnsName, TableName, AuditTableName, UsageTableName and ConsoleUrl, got %v", jsonString(outs))
	}
	check(t, "usage table name output", func() {
		s.tmpl.HasOutput(jsii.String("UsageTableName"), map[string]any{"Value": ref(s.logicalID(s.stack.UsageTable.Table))})
	})
	check(t, "audit table name output", func() {
		s.tmpl.HasOutput(jsii.String("AuditTableName"), map[string]any{"Value": ref(s.logicalID(s.stack.AuditTable.Table))})
	})
	check(t, "table name output", func() {
		s.tmpl.HasOutput(jsii.String("TableName"), map[string]any{"Value": ref(s.logicalID(s.stack.Table.Table))})
	})
}

// --- Behaviour 1: IAM ----------------------------------------------------------

// statement is one IAM statement and where it was found.
type statement struct {
	where     string
	actions   []string
	resources []any
	raw       map[string]any
}

// statements collects every identity-policy statement of the template:
// AWS::IAM::Policy documents and inline role policies.
func (s *synthesized) statements() []statement {
	var out []statement
	add := func(where string, doc any) {
		d, _ := doc.(map[string]any)
		for _, st := range listOf(d["Statement"]) {
			m, _ := st.(map[string]any)
			if m == nil {
				continue
			}
			out = append(out, statement{where: where, actions: toStrings(m["Action"]), resources: listOf(m["Resource"]), raw: m})
		}
	}
	for id, p := range s.resources("AWS::IAM::Policy") {
		add(id, props(p)["PolicyDocument"])
	}
	for id, r := range s.resources("AWS::IAM::Role") {
		for _, pol := range listOf(props(r)["Policies"]) {
			if m, ok := pol.(map[string]any); ok {
				add(id, m["PolicyDocument"])
			}
		}
	}
	return out
}

func TestNoWildcardGrants(t *testing.T) {
	for _, v := range variantNames() {
		s := synth(t, v)
		table := s.logicalID(s.stack.Table.Table)
		audit := s.logicalID(s.stack.AuditTable.Table)
		usage := s.logicalID(s.stack.UsageTable.Table)
		for _, st := range s.statements() {
			for _, a := range st.actions {
				if a == "*" || strings.HasSuffix(a, ":*") {
					t.Errorf("%s/%s grants %q: list the actions used", v, st.where, a)
				}
			}
			for _, r := range st.resources {
				// Lambda's network interface actions have no resource to
				// name (the AWSLambdaVPCAccessExecutionRole policy grants
				// them on "*" too).
				// ECR's GetAuthorizationToken takes no resource either (the
				// ECS execution role, for the container image).
				if r == "*" && !slices.Equal(sortedCopy(st.actions), sortedCopy(vpcAccessActions)) && !slices.Equal(st.actions, []string{"ecr:GetAuthorizationToken"}) {
					t.Errorf("%s/%s grants %v on \"*\"", v, st.where, st.actions)
				}
				if strings.Contains(jsonString(r), "index/*") {
					t.Errorf("%s/%s grants on %s: name the two indexes", v, st.where, jsonString(r))
				}
			}
			if hasPrefix(st.actions, "dynamodb:") {
				for _, r := range st.resources {
					onAudit := same(r, arnOf(audit)) || isIndexARNOf(r, audit, schema.Audit)
					onUsage := same(r, arnOf(usage)) || isIndexARNOf(r, usage, schema.Usage)
					if !same(r, arnOf(table)) && !isIndexARN(r, table) && !onAudit && !onUsage {
						t.Errorf("%s/%s: DynamoDB grant on %s, want the token, audit or usage table or their indexes", v, st.where, jsonString(r))
					}
					// Usage items are added to (serve) and queried (serve
					// and usage); nothing scans or deletes them (TTL does).
					if onUsage && !slices.Equal(st.actions, serveUsageActions) && !slices.Equal(st.actions, usageReadActions) {
						t.Errorf("%s/%s: grants %v on the usage table %s, want %v or %v only", v, st.where, st.actions, jsonString(r), serveUsageActions, usageReadActions)
					}
					// Audit items are written once, in the change's
					// transaction, and read by Query; nothing scans,
					// updates or deletes them (TTL does).
					if onAudit && !slices.Equal(st.actions, auditWriteActions) && !slices.Equal(st.actions, auditReadActions) {
						t.Errorf("%s/%s: grants %v on the audit table %s, want PutItem or Query only", v, st.where, st.actions, jsonString(r))
					}
				}
			}
		}
	}
}

func isIndexARN(r any, table string) bool { return isIndexARNOf(r, table, schema.Tokens) }

// isIndexARNOf: r is the ARN of one of def's indexes on the table with
// logical id table.
func isIndexARNOf(r any, table string, def schema.Table) bool {
	j := jsonString(r)
	for _, ix := range def.Indexes {
		if strings.Contains(j, `"`+table+`","Arn"]},"/index/`+ix.Name+`"`) {
			return true
		}
	}
	return false
}

func hasPrefix(actions []string, p string) bool {
	return slices.ContainsFunc(actions, func(a string) bool { return strings.HasPrefix(a, p) })
}

// grantsOf returns the DynamoDB and Secrets Manager actions granted to a
// role, by resource.
func (s *synthesized) grantsOf(roleID string) map[string][]string {
	out := map[string][]string{}
	for id, p := range s.resources("AWS::IAM::Policy") {
		if !refersTo(props(p)["Roles"], roleID) {
			continue
		}
		for _, st := range s.statements() {
			if st.where != id {
				continue
			}
			for _, r := range st.resources {
				for _, a := range st.actions {
					if strings.HasPrefix(a, "dynamodb:") || strings.HasPrefix(a, "secretsmanager:") {
						out[jsonString(r)] = append(out[jsonString(r)], a)
					}
				}
			}
		}
	}
	for k := range out {
		out[k] = sortedCopy(out[k])
	}
	return out
}

// roleOf is the logical id of the role a function runs as.
func (s *synthesized) roleOf(name string) string {
	fn := props(s.resources("AWS::Lambda::Function")[s.logicalID(s.stack.Functions.ByName[name])])
	return fn["Role"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
}

// statementsOf are the statements of the policies attached to a role.
func (s *synthesized) statementsOf(roleID string) []statement {
	var out []statement
	for _, st := range s.statements() {
		if pol, ok := s.resources("AWS::IAM::Policy")[st.where]; ok && refersTo(props(pol)["Roles"], roleID) {
			out = append(out, st)
		}
	}
	return out
}

// indexGrants maps each index ARN of def on table to the actions granted.
func indexGrants(g map[string][]string, table string, def schema.Table) map[string][]string {
	out := map[string][]string{}
	for r, actions := range g {
		var v any
		_ = json.Unmarshal([]byte(r), &v)
		if isIndexARNOf(v, table, def) {
			out[r] = actions
		}
	}
	return out
}

func TestRolesAreLeastPrivilege(t *testing.T) {
	s := synth(t, "default")
	table := s.logicalID(s.stack.Table.Table)
	tableARN := jsonString(arnOf(table))
	audit := s.logicalID(s.stack.AuditTable.Table)
	auditARN := jsonString(arnOf(audit))
	tokenRole := s.logicalID(s.stack.Functions.TokenRole)

	// ApiTokensApiRole: the token functions that write. Every change puts
	// its audit item in the change's transaction, so PutItem on the audit
	// table and nothing else there.
	got := s.grantsOf(tokenRole)
	if want := sortedCopy(tokenTableActions); !slices.Equal(got[tableARN], want) {
		t.Errorf("ApiTokensApiRole on the table: %v, want %v", got[tableARN], want)
	}
	for _, a := range []string{"dynamodb:UpdateItem", "dynamodb:ConditionCheckItem", "dynamodb:PutItem", "dynamodb:DeleteItem"} {
		if !slices.Contains(got[tableARN], a) {
			t.Errorf("ApiTokensApiRole lacks %s on the token table (update, rotate and delete transactions)", a)
		}
	}
	if !slices.Equal(got[auditARN], []string{"dynamodb:PutItem"}) {
		t.Errorf("ApiTokensApiRole on the audit table: %v, want PutItem only", got[auditARN])
	}
	if ix := indexGrants(got, audit, schema.Audit); len(ix) != 0 {
		t.Errorf("ApiTokensApiRole has grants on the audit indexes: %v", ix)
	}
	ix := indexGrants(got, table, schema.Tokens)
	for r, actions := range ix {
		if !slices.Equal(actions, []string{"dynamodb:Query"}) {
			t.Errorf("ApiTokensApiRole on %s: %v, want Query only", r, actions)
		}
	}
	// rotate finds the old token by tokenUUID-index; a bulk revoke lists
	// the user's tokens by username-index.
	if len(ix) != len(schema.Tokens.Indexes) || len(got) != 2+len(schema.Tokens.Indexes) {
		t.Errorf("ApiTokensApiRole grants on %v, want the token table, its %d indexes and the audit table", got, len(schema.Tokens.Indexes))
	}
	for _, name := range tokenRoleFunctions {
		fn := props(s.resources("AWS::Lambda::Function")[s.logicalID(s.stack.Functions.ByName[name])])
		if !same(fn["Role"], arnOf(tokenRole)) {
			t.Errorf("%s runs as %v, want ApiTokensApiRole", name, jsonString(fn["Role"]))
		}
	}

	for _, name := range []string{routes.FnAuthorizer, routes.FnServe, routes.FnEvents, routes.FnUsage} {
		if s.roleOf(name) == tokenRole {
			t.Errorf("%s must not share ApiTokensApiRole", name)
		}
	}
	for _, name := range []string{routes.FnAuthorizer, routes.FnServe} {
		want := map[string][]string{tableARN: {"dynamodb:GetItem", "dynamodb:UpdateItem"}}
		if name == routes.FnServe {
			want[jsonString(testSecretARN)] = []string{"secretsmanager:GetSecretValue"}
			want[jsonString(arnOf(s.logicalID(s.stack.UsageTable.Table)))] = serveUsageActions
		}
		if g := s.grantsOf(s.roleOf(name)); !same(g, want) {
			t.Errorf("%s role grants %v, want %v", name, g, want)
		}
	}
	// Roles carry no AWS managed policies except API Gateway's account role.
	for id, r := range s.resources("AWS::IAM::Role") {
		if mp := props(r)["ManagedPolicyArns"]; mp != nil && !strings.Contains(jsonString(mp), "AmazonAPIGatewayPushToCloudWatchLogs") {
			t.Errorf("%s has managed policies %v", id, jsonString(mp))
		}
	}
}

// writeActions are the DynamoDB actions that change data.
var writeActions = []string{
	"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
	"dynamodb:ConditionCheckItem", "dynamodb:PartiQLInsert", "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete",
}

// TestEventsRoleOnlyReads: the events function queries the audit table
// and its three indexes, reads the token table to decide the caller and
// the token's owner, and writes nothing but, when no other function has
// made it yet, the one item that seals its page cursors.
func TestEventsRoleOnlyReads(t *testing.T) {
	for _, v := range variantNames() {
		s := synth(t, v)
		table := s.logicalID(s.stack.Table.Table)
		audit := s.logicalID(s.stack.AuditTable.Table)
		role := s.roleOf(routes.FnEvents)
		if role != s.logicalID(s.stack.Functions.EventsRole) {
			t.Fatalf("%s: events runs as %s, want EventsRole", v, role)
		}
		g := s.grantsOf(role)
		want := map[string][]string{
			jsonString(arnOf(audit)): {"dynamodb:Query"},
			jsonString(arnOf(table)): {"dynamodb:GetItem", "dynamodb:PutItem"},
		}
		for _, ix := range schema.Audit.Indexes {
			want[jsonString(s.stack.Stack.Resolve(s.stack.AuditTable.IndexARN[ix.Name]))] = []string{"dynamodb:Query"}
		}
		want[jsonString(s.stack.Stack.Resolve(s.stack.Table.IndexARN[schema.IndexTokenUUID]))] = []string{"dynamodb:Query"}
		if !same(g, want) {
			t.Errorf("%s: events grants %v, want %v", v, g, want)
		}
		for _, st := range s.statementsOf(role) {
			for _, a := range st.actions {
				if !slices.Contains(writeActions, a) {
					continue
				}
				// The only write: the cursor key item, by its partition key.
				cond := jsonString(st.raw["Condition"])
				if a != "dynamodb:PutItem" || !same(st.resources, []any{arnOf(table)}) ||
					!strings.Contains(cond, `"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["`+schema.CursorKeyItem+`"]}`) ||
					!strings.Contains(cond, `"Null":{"dynamodb:LeadingKeys":"false"}`) {
					t.Errorf("%s: events may %s on %v with condition %s; its one write is the cursor key item", v, a, jsonString(st.resources), cond)
				}
			}
		}
	}
}

// TestLastUsedGrantIsConditioned: the authorizer and serve (Lambda or the
// Fargate task) may UpdateItem only to set lastUsedAt, and not at all when
// apiTokens.lastUsedResolutionSeconds is 0.
func TestLastUsedGrantIsConditioned(t *testing.T) {
	wantAttrs := []string{schema.AttrToken, schema.AttrTokenUUID, schema.AttrLastUsedAt}
	for _, v := range variantNames() {
		s := synth(t, v)
		table := s.logicalID(s.stack.Table.Table)
		usage := s.logicalID(s.stack.UsageTable.Table)
		roles := map[string]string{routes.FnAuthorizer: s.roleOf(routes.FnAuthorizer)}
		if svc := s.stack.ServeService; svc != nil {
			roles["serve task"] = s.logicalID(svc.TaskRole)
		} else {
			roles[routes.FnServe] = s.roleOf(routes.FnServe)
		}
		enabled := *s.cfg.APITokens.LastUsedResolutionSeconds > 0
		for who, role := range roles {
			n := 0
			for _, st := range s.statementsOf(role) {
				// The usage table's counters (TestServeUsageGrants).
				if !slices.Contains(st.actions, "dynamodb:UpdateItem") || same(st.resources, []any{arnOf(usage)}) {
					continue
				}
				n++
				if !slices.Equal(st.actions, []string{"dynamodb:UpdateItem"}) || !same(st.resources, []any{arnOf(table)}) {
					t.Errorf("%s: %s: the lastUsedAt statement grants %v on %v, want UpdateItem on the token table alone", v, who, st.actions, jsonString(st.resources))
				}
				c, _ := st.raw["Condition"].(map[string]any)
				fa, _ := c["ForAllValues:StringEquals"].(map[string]any)
				if got := toStrings(fa["dynamodb:Attributes"]); !slices.Equal(sortedCopy(got), sortedCopy(wantAttrs)) {
					t.Errorf("%s: %s: dynamodb:Attributes %v, want exactly %v", v, who, got, wantAttrs)
				}
				if !same(c["Null"], map[string]any{"dynamodb:Attributes": "false"}) {
					t.Errorf("%s: %s: want Null false on dynamodb:Attributes (ForAllValues holds for a request naming none), got %v", v, who, jsonString(c["Null"]))
				}
				rv, _ := c["StringEqualsIfExists"].(map[string]any)
				if got := toStrings(rv["dynamodb:ReturnValues"]); !slices.Equal(got, []string{"NONE"}) {
					t.Errorf("%s: %s: dynamodb:ReturnValues %v, want NONE (StringEqualsIfExists)", v, who, got)
				}
				if len(c) != 3 {
					t.Errorf("%s: %s: unexpected conditions %v", v, who, jsonString(c))
				}
			}
			if want := map[bool]int{true: 1, false: 0}[enabled]; n != want {
				t.Errorf("%s: %s has %d UpdateItem statements, want %d (lastUsedResolutionSeconds %d)", v, who, n, want, *s.cfg.APITokens.LastUsedResolutionSeconds)
			}
			for _, st := range s.statementsOf(role) {
				for _, a := range st.actions {
					if slices.Contains(writeActions, a) && a != "dynamodb:UpdateItem" {
						t.Errorf("%s: %s may %s", v, who, a)
					}
				}
			}
		}
	}
}

// TestLifecycleRoutes: PATCH and rotate, the events resources and the bulk
// DELETE exist, reach their functions through the REQUEST authorizer, and
// answer the console's preflight.
func TestLifecycleRoutes(t *testing.T) {
	s := synth(t, "default")
	authID := s.logicalID(s.stack.API.Authorizer)
	paths := s.apiResourcePaths()
	type method struct{ fn, path, verb string }
	wants := []method{
		{routes.FnUpdate, "/api-tokens/{id}", "PATCH"},
		{routes.FnRotate, "/api-tokens/{id}/rotate", "POST"},
		{routes.FnEvents, "/api-tokens/{id}/events", "GET"},
		{routes.FnEvents, "/api-token-events", "GET"},
		{routes.FnDelete, "/api-tokens", "DELETE"},
	}
	got := map[method]bool{}
	preflight := map[string]bool{}
	for _, m := range s.resources("AWS::ApiGateway::Method") {
		p := props(m)
		resID, _ := p["ResourceId"].(map[string]any)["Ref"].(string)
		if p["HttpMethod"] == "OPTIONS" {
			preflight[paths[resID]] = p["AuthorizationType"] == "NONE"
			continue
		}
		in := p["Integration"].(map[string]any)
		for _, w := range wants {
			if w.path == paths[resID] && w.verb == p["HttpMethod"] {
				got[w] = true
				if p["AuthorizationType"] != "CUSTOM" || !same(p["AuthorizerId"], ref(authID)) ||
					!refersTo(in["Uri"], s.logicalID(s.stack.Functions.ByName[w.fn])) {
					t.Errorf("%s %s: authorizer %v, integration %v; want the REQUEST authorizer and the %s function",
						w.verb, w.path, jsonString(p["AuthorizerId"]), jsonString(in["Uri"]), w.fn)
				}
			}
		}
	}
	for _, w := range wants {
		if !got[w] {
			t.Errorf("%s %s is missing", w.verb, w.path)
		}
		if !preflight[w.path] {
			t.Errorf("%s has no unauthenticated CORS preflight", w.path)
		}
	}
}

// TestTokenFormatReachesEveryFunction: the format is read wherever tokens
// are created or authenticated, which is every function; the prefix only
// with prefixed tokens.
func TestTokenFormatReachesEveryFunction(t *testing.T) {
	for v, want := range map[string][2]string{"default": {TokenFormatHex, ""}, "vpc": {TokenFormatPrefixed, "acme"}} {
		s := synth(t, v)
		for _, name := range functionNames {
			env := s.envOf(name)
			if env[envTokenFormat] != want[0] || env[envTokenPrefix] != want[1] {
				t.Errorf("%s: %s has %s=%q %s=%q, want %q %q", v, name, envTokenFormat, env[envTokenFormat], envTokenPrefix, env[envTokenPrefix], want[0], want[1])
			}
			if _, ok := env[envTokenPrefix]; ok != (want[1] != "") {
				t.Errorf("%s: %s: %s set=%v", v, name, envTokenPrefix, ok)
			}
		}
		if got := s.envOf(routes.FnCreate)[config.EnvAuditRetentionDays]; got != fmt.Sprint(*s.cfg.APITokens.AuditRetentionDays) {
			t.Errorf("%s: create %s = %q, want %d", v, config.EnvAuditRetentionDays, got, *s.cfg.APITokens.AuditRetentionDays)
		}
		if got := s.envOf(routes.FnAuthorizer)[config.EnvLastUsedResolution]; got != fmt.Sprint(*s.cfg.APITokens.LastUsedResolutionSeconds) {
			t.Errorf("%s: authorizer %s = %q", v, config.EnvLastUsedResolution, got)
		}
	}
}

// systemRoles are the roles of the token system itself: not the console's
// deployment role (console.enabled) nor CDK's bucket-emptying provider
// (removalPolicy: destroy).
func (s *synthesized) systemRoles() map[string]map[string]any {
	roles := s.resources("AWS::IAM::Role")
	for id := range roles {
		if strings.HasPrefix(id, "CustomS3AutoDeleteObjectsCustomResourceProvider") || strings.HasPrefix(id, "ConsoleDeploymentRole") {
			delete(roles, id)
		}
	}
	return roles
}

func TestRoleOverrideImportsInsteadOfCreating(t *testing.T) {
	wantByVariant := map[string]any{
		"override": map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":iam::", ref("AWS::AccountId"), ":role/CustomApiTokensRole"}}},
		"listener": "arn:aws:iam::123456789012:role/CustomApiTokensRole",
	}
	created := len(synth(t, "default").systemRoles())
	for v, want := range wantByVariant {
		s := synth(t, v)
		if !s.stack.Functions.TokenRoleImported {
			t.Errorf("%s: roles.ApiTokensApiRole set but the role was not imported", v)
		}
		if n := len(s.systemRoles()); n != created-1 {
			t.Errorf("%s: %d roles, want %d (all but ApiTokensApiRole)", v, n, created-1)
		}
		for _, name := range tokenRoleFunctions {
			fn := props(s.resources("AWS::Lambda::Function")[s.logicalID(s.stack.Functions.ByName[name])])
			if !same(fn["Role"], want) {
				t.Errorf("%s: %s runs as %v, want the existing role %v", v, name, jsonString(fn["Role"]), jsonString(want))
			}
		}
		// The existing role is not modified: no policy is attached to it.
		for id, p := range s.resources("AWS::IAM::Policy") {
			if strings.Contains(jsonString(props(p)["Roles"]), "CustomApiTokensRole") {
				t.Errorf("%s: policy %s modifies the imported role", v, id)
			}
		}
	}
}

// --- Behaviour 2: cdk-nag ------------------------------------------------------

func TestNagAwsSolutionsClean(t *testing.T) {
	for _, v := range variantNames() {
		s := synth(t, v)
		for _, e := range s.nagErrors {
			t.Errorf("%s: unsuppressed error: %s", v, e)
		}
	}
}

func TestEverySuppressionHasASpecificReason(t *testing.T) {
	for _, v := range variantNames() {
		s := synth(t, v)
		n := 0
		for id, r := range s.json["Resources"].(map[string]any) {
			md, _ := r.(map[string]any)["Metadata"].(map[string]any)
			nag, _ := md["cdk_nag"].(map[string]any)
			for _, rule := range listOf(nag["rules_to_suppress"]) {
				m, ok := rule.(map[string]any)
				if !ok {
					continue
				}
				n++
				reason, _ := m["reason"].(string)
				if len(reason) < 80 {
					t.Errorf("%s/%s: suppression of %v needs a specific reason, got %q", v, id, m["id"], reason)
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: found no suppressions; the test is not looking in the right place", v)
		}
	}
}

func containsAny(msgs []string, sub string) bool {
	return slices.ContainsFunc(msgs, func(m string) bool { return strings.Contains(m, sub) })
}

// --- Behaviour 3: cfn-lint on every variant -----------------------------------

// TestCfnLintVariants lints each variant's template; `make test-infra` also
// lints the template `cdk synth` writes for config-custom.example.yaml.
func TestCfnLintVariants(t *testing.T) {
	lint, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Skip("cfn-lint not installed; `make cfn-lint` covers the synthesized template")
	}
	dir := t.TempDir()
	args := []string{"--ignore-checks", "W3005", "--"}
	for _, v := range variantNames() {
		p := filepath.Join(dir, v+".template.json")
		if err := os.WriteFile(p, []byte(jsonString(synth(t, v).json)), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	out, err := exec.Command(lint, args...).CombinedOutput()
	if err != nil {
		t.Errorf("cfn-lint found problems (%v):\n%s", err, out)
	}
}
