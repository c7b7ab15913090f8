package main

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/routes"
	"github.com/llmgw/apitokens/pkg/schema"
)

// TestUsageTableIsBuiltFromSchema: keys, indexes (each with its sort
// key), TTL, billing, recovery and encryption come from schema.Usage and
// the token table's rules; the removal policy follows removalPolicy.
func TestUsageTableIsBuiltFromSchema(t *testing.T) {
	key := func(pk, sk string) []any {
		return []any{map[string]any{"AttributeName": pk, "KeyType": "HASH"}, map[string]any{"AttributeName": sk, "KeyType": "RANGE"}}
	}
	gsis := []any{}
	wantDefs := []string{schema.Usage.PartitionKey + ":S", schema.Usage.SortKey + ":S"}
	for _, ix := range schema.Usage.Indexes {
		if ix.SortKey == "" {
			t.Fatalf("schema.Usage index %s has no sort key; its days are read in order by it", ix.Name)
		}
		gsis = append(gsis, map[string]any{
			"IndexName":  ix.Name,
			"KeySchema":  key(ix.PartitionKey, ix.SortKey),
			"Projection": map[string]any{"ProjectionType": "ALL"},
		})
		if !slices.Contains(wantDefs, ix.PartitionKey+":S") {
			wantDefs = append(wantDefs, ix.PartitionKey+":S")
		}
		if !slices.Contains(wantDefs, ix.SortKey+":S") {
			wantDefs = append(wantDefs, ix.SortKey+":S")
		}
	}
	if schema.Usage.TTL != schema.AttrUsageExpiresAt {
		t.Fatalf("schema.Usage.TTL is %q, want %q", schema.Usage.TTL, schema.AttrUsageExpiresAt)
	}
	s := synth(t, "default")
	id := s.logicalID(s.stack.UsageTable.Table)
	p := props(s.resources("AWS::DynamoDB::Table")[id])
	if p["TableName"] != schema.UsageTableName("lisa") || schema.UsageTableName("lisa") != "lisa-LISAApiTokenUsageTable" {
		t.Fatalf("the usage table is %v, want lisa-LISAApiTokenUsageTable", p["TableName"])
	}
	check(t, "usage table", func() {
		s.tmpl.HasResource(jsii.String("AWS::DynamoDB::Table"), map[string]any{
			"DeletionPolicy":      "Retain",
			"UpdateReplacePolicy": "Retain",
			"Properties": assertions.Match_ObjectLike(&map[string]any{
				"TableName":                        schema.UsageTableName("lisa"),
				"KeySchema":                        key(schema.AttrUsageKey, schema.AttrUsageDay),
				"GlobalSecondaryIndexes":           gsis,
				"BillingMode":                      "PAY_PER_REQUEST",
				"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
				"DeletionProtectionEnabled":        true,
				"SSESpecification":                 map[string]any{"SSEEnabled": true},
				"TimeToLiveSpecification":          map[string]any{"AttributeName": schema.AttrUsageExpiresAt, "Enabled": true},
			}),
		})
	})
	var defs []string
	for _, d := range listOf(p["AttributeDefinitions"]) {
		m := d.(map[string]any)
		defs = append(defs, m["AttributeName"].(string)+":"+m["AttributeType"].(string))
	}
	if !slices.Equal(sortedCopy(defs), sortedCopy(wantDefs)) {
		t.Errorf("usage attribute definitions %v, want %v", defs, wantDefs)
	}
	if _, ok := p["ProvisionedThroughput"]; ok {
		t.Errorf("the usage table must be on demand, got provisioned throughput %v", jsonString(p["ProvisionedThroughput"]))
	}

	d := synth(t, "override") // removalPolicy: destroy
	check(t, "destroyable usage table", func() {
		d.tmpl.HasResource(jsii.String("AWS::DynamoDB::Table"), map[string]any{
			"DeletionPolicy": "Delete",
			"Properties": assertions.Match_ObjectLike(&map[string]any{
				"TableName":                        schema.UsageTableName("lisa"),
				"DeletionProtectionEnabled":        false,
				"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
			}),
		})
	})
}

// TestUsageRoleOnlyReads: the usage function runs as its own role, in
// every variant (ApiTokensApiRole imported or not), and may Query the
// usage table and its two indexes, GetItem the token table and Query its
// tokenUUID-index: nothing else, no write at all.
func TestUsageRoleOnlyReads(t *testing.T) {
	for _, v := range variantNames() {
		s := synth(t, v)
		role := s.roleOf(routes.FnUsage)
		if role != s.logicalID(s.stack.Functions.UsageRole) {
			t.Fatalf("%s: usage runs as %s, want UsageRole", v, role)
		}
		for _, other := range []string{routes.FnEvents, routes.FnAuthorizer} {
			if s.roleOf(other) == role {
				t.Errorf("%s: usage shares its role with %s", v, other)
			}
		}
		want := map[string][]string{
			jsonString(arnOf(s.logicalID(s.stack.UsageTable.Table))):                         {"dynamodb:Query"},
			jsonString(arnOf(s.logicalID(s.stack.Table.Table))):                              {"dynamodb:GetItem"},
			jsonString(s.stack.Stack.Resolve(s.stack.Table.IndexARN[schema.IndexTokenUUID])): {"dynamodb:Query"},
		}
		for _, ix := range schema.Usage.Indexes {
			want[jsonString(s.stack.Stack.Resolve(s.stack.UsageTable.IndexARN[ix.Name]))] = []string{"dynamodb:Query"}
		}
		if g := s.grantsOf(role); !same(g, want) {
			t.Errorf("%s: usage grants %v, want %v", v, g, want)
		}
		for _, st := range s.statementsOf(role) {
			for _, a := range st.actions {
				if slices.Contains(writeActions, a) || a == "dynamodb:Scan" || strings.HasSuffix(a, ":*") {
					t.Errorf("%s: usage may %s on %v", v, a, jsonString(st.resources))
				}
			}
		}
	}
}

// TestServeUsageGrants: the serve path (the Lambda function's role, or
// the Fargate task role) may UpdateItem, GetItem and Query the usage
// table itself, in one statement without conditions, and nothing on the
// usage table's indexes; nothing else touches the usage table but the
// usage function.
func TestServeUsageGrants(t *testing.T) {
	for _, v := range variantNames() {
		s := synth(t, v)
		usage := s.logicalID(s.stack.UsageTable.Table)
		role, who := "", "serve"
		if svc := s.stack.ServeService; svc != nil {
			role, who = s.logicalID(svc.TaskRole), "serve task"
		} else {
			role = s.roleOf(routes.FnServe)
		}
		var found int
		for _, st := range s.statementsOf(role) {
			onUsage := false
			for _, r := range st.resources {
				if isIndexARNOf(r, usage, schema.Usage) {
					t.Errorf("%s: %s has %v on a usage index %s", v, who, st.actions, jsonString(r))
				}
				onUsage = onUsage || same(r, arnOf(usage))
			}
			if !onUsage {
				continue
			}
			found++
			if !same(st.resources, []any{arnOf(usage)}) || !slices.Equal(st.actions, []string{"dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"}) || st.raw["Condition"] != nil {
				t.Errorf("%s: %s usage statement %v on %v (condition %v), want GetItem, Query, UpdateItem on the usage table alone",
					v, who, st.actions, jsonString(st.resources), jsonString(st.raw["Condition"]))
			}
		}
		if found != 1 {
			t.Errorf("%s: %s has %d statements on the usage table, want 1", v, who, found)
		}
		for _, st := range s.statements() {
			pol := s.resources("AWS::IAM::Policy")[st.where]
			if refersTo(props(pol)["Roles"], role) || refersTo(props(pol)["Roles"], s.logicalID(s.stack.Functions.UsageRole)) {
				continue
			}
			if refersTo(st.resources, usage) {
				t.Errorf("%s: %s grants %v on the usage table; only serve and usage may", v, st.where, st.actions)
			}
		}
	}
}

// serveEnvOf is the serve binary's environment in either mode.
func (s *synthesized) serveEnvOf(t *testing.T) map[string]string {
	if s.stack.ServeService != nil {
		_, c := s.containerDef(t)
		return containerEnv(c)
	}
	return s.envOf(routes.FnServe)
}

// limitVars are every variable of the limits and usage sections.
var limitVars = []string{
	config.EnvUsageTableName, config.EnvUsageRetentionDays, config.EnvUsageTracking, config.EnvLimitsFailOpen,
	config.EnvDefaultTokenLimits, config.EnvGroupTokenLimits, config.EnvGlobalLimits, config.EnvModelPrices,
}

// TestLimitsEnvironmentPerFunction: each function gets the limit and usage
// variables it reads and no others, in both serve modes; a value that is
// not configured is left out (the functions' defaults apply).
func TestLimitsEnvironmentPerFunction(t *testing.T) {
	policyVars := []string{config.EnvDefaultTokenLimits, config.EnvGroupTokenLimits}
	for _, c := range []struct {
		variant string
		serve   map[string]string
	}{
		{"default", withEnv(limitsJSON, map[string]string{config.EnvUsageRetentionDays: "400", config.EnvUsageTracking: "true", config.EnvLimitsFailOpen: "false"})},
		{"container", withEnv(limitsJSON, map[string]string{config.EnvUsageRetentionDays: "400", config.EnvUsageTracking: "true", config.EnvLimitsFailOpen: "false"})},
		// A global limit only, tracking off, failing open.
		{"private", map[string]string{config.EnvGlobalLimits: `{"requestsPerDay":100000}`, config.EnvUsageRetentionDays: "30", config.EnvUsageTracking: "false", config.EnvLimitsFailOpen: "true"}},
		// Nothing configured: the defaults, spelled out; no JSON value.
		{"vpc", map[string]string{config.EnvUsageRetentionDays: "400", config.EnvUsageTracking: "true", config.EnvLimitsFailOpen: "false"}},
		{"container-listener", map[string]string{config.EnvUsageRetentionDays: "400", config.EnvUsageTracking: "true", config.EnvLimitsFailOpen: "false"}},
	} {
		s := synth(t, c.variant)
		usageRef := jsonString(ref(s.logicalID(s.stack.UsageTable.Table)))
		c.serve[config.EnvUsageTableName] = usageRef
		policy := map[string]string{}
		for _, k := range policyVars {
			if v, ok := c.serve[k]; ok {
				policy[k] = v
			}
		}
		want := map[string]map[string]string{
			routes.FnServe:  c.serve,
			routes.FnUsage:  withEnv(policy, map[string]string{config.EnvUsageTableName: usageRef}),
			routes.FnCreate: policy, routes.FnUpdate: policy, routes.FnList: policy, routes.FnGet: policy,
			routes.FnDelete: {}, routes.FnSettings: {}, routes.FnRotate: {}, routes.FnEvents: {}, routes.FnAuthorizer: {},
		}
		for name, w := range want {
			var env map[string]string
			if name == routes.FnServe {
				env = s.serveEnvOf(t)
			} else {
				env = s.envOf(name)
			}
			got := map[string]string{}
			for _, k := range limitVars {
				if v, ok := env[k]; ok {
					got[k] = v
				}
			}
			if !same(got, w) {
				t.Errorf("%s: %s limit variables\n got %s\nwant %s", c.variant, name, jsonString(got), jsonString(w))
			}
		}
	}
}

// TestLimitsEnvironmentLoads: what synth writes, the functions' own
// config.Load reads back as the configured policy and prices.
func TestLimitsEnvironmentLoads(t *testing.T) {
	s := synth(t, "default")
	env := s.serveEnvOf(t)
	got, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("the serve environment does not load: %v", err)
	}
	want, err := config.Load(func(k string) string { return limitsJSON[k] })
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Limits, want.Limits) || !reflect.DeepEqual(got.Prices, want.Prices) {
		t.Errorf("loaded %+v %+v, want %+v %+v", got.Limits, got.Prices, want.Limits, want.Prices)
	}
	if got.Limits.Default.RequestsPerMinute == nil || *got.Limits.Default.RequestsPerMinute != 60 ||
		got.Limits.Groups["lisa-api-users"].BudgetPerMonth == nil || *got.Limits.Groups["lisa-api-users"].BudgetPerMonth != 250.5 ||
		got.Prices["claude"].Output != 15 || got.Limits.Global.RequestsPerMinute == nil {
		t.Errorf("loaded limits lost values: %+v %+v", got.Limits, got.Prices)
	}
	if !got.UsageTracking || got.LimitsFailOpen || got.UsageRetention.Hours() != 400*24 {
		t.Errorf("usage settings: tracking %v, fail open %v, retention %v", got.UsageTracking, got.LimitsFailOpen, got.UsageRetention)
	}
}

// TestUsageRoutes: both usage resources exist on the REST API, behind the
// REQUEST authorizer, and reach the usage function.
func TestUsageRoutes(t *testing.T) {
	s := synth(t, "default")
	fn := s.stack.Functions.ByName[routes.FnUsage]
	if fn == nil {
		t.Fatal("no usage function")
	}
	fnID := s.logicalID(fn)
	authID := s.logicalID(s.stack.API.Authorizer)
	paths := s.apiResourcePaths()
	want := map[string]bool{"GET /api-tokens/{id}/usage": false, "GET /api-token-usage": false}
	for _, m := range s.resources("AWS::ApiGateway::Method") {
		p := props(m)
		resID, _ := p["ResourceId"].(map[string]any)["Ref"].(string)
		key := p["HttpMethod"].(string) + " " + paths[resID]
		in, _ := p["Integration"].(map[string]any)
		if refersTo(in["Uri"], fnID) {
			if _, ok := want[key]; !ok {
				t.Errorf("usage also serves %s", key)
			}
		}
		if _, ok := want[key]; !ok {
			continue
		}
		want[key] = true
		if p["AuthorizationType"] != "CUSTOM" || !same(p["AuthorizerId"], ref(authID)) || in["Type"] != "AWS_PROXY" || !refersTo(in["Uri"], fnID) {
			t.Errorf("%s: authorizer %v %v, integration %v; want the REQUEST authorizer and the usage function",
				key, p["AuthorizationType"], jsonString(p["AuthorizerId"]), jsonString(in["Uri"]))
		}
	}
	for k, ok := range want {
		if !ok {
			t.Errorf("%s is missing from the REST API", k)
		}
	}
	lambda := props(s.resources("AWS::Lambda::Function")[fnID])
	if lambda["Timeout"] != float64(tokenFnTimeoutSec) || lambda["MemorySize"] != float64(tokenFnMemoryMB) {
		t.Errorf("usage sized %v s, %v MB; want a token function's %d s, %d MB", lambda["Timeout"], lambda["MemorySize"], tokenFnTimeoutSec, tokenFnMemoryMB)
	}
}
