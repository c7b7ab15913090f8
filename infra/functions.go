package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/routes"
	"github.com/llmgw/apitokens/pkg/schema"
)

// Environment variables of the token format.
const (
	envTokenFormat = config.EnvTokenFormat
	envTokenPrefix = config.EnvTokenPrefix
)

// DynamoDB actions of the token functions that share ApiTokensApiRole
// (pkg/store's operations). TransactWriteItems is authorized per item, with
// the action of each item: create and delete put and delete token and guard
// items; update changes a token item conditioned on its old values
// (UpdateItem, and ConditionCheckItem for an item the transaction only
// checks); rotate puts the new token and updates the old one and the
// guard. GetItem reads by hash and checks a guard before reclaiming it;
// Scan lists everything and finds legacy items. Query is only ever used on
// the indexes (GetByUUID, List and revoking by username), so it is granted
// there alone.
var (
	tokenTableActions = []string{
		"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem",
		"dynamodb:UpdateItem", "dynamodb:ConditionCheckItem",
		"dynamodb:Scan",
	}
	tokenIndexActions = []string{"dynamodb:Query"}
	// auditWriteActions: every change writes its audit item in the same
	// TransactWriteItems as the change itself, as a Put; the audit table
	// is never updated, deleted from or scanned (TTL expires its items).
	auditWriteActions = []string{"dynamodb:PutItem"}
	// auditReadActions are the events function's only grant on the audit
	// table: Query on the table (one token's events) and on its indexes
	// (by owner, by actor, by month).
	auditReadActions = []string{"dynamodb:Query"}
	// readTokenActions is all the authorizer and serve functions need to
	// decide a call: one strongly consistent GetItem per presented API
	// token. The events function needs the same to re-decide an API token
	// call and to read the settings.
	readTokenActions = []string{"dynamodb:GetItem"}
	// lastUsedActions record when a token was last used; the statement is
	// conditioned to the lastUsedAt attribute alone (lastUsedStatement).
	lastUsedActions = []string{"dynamodb:UpdateItem"}
	// lastUsedAttributes are the attribute names an UpdateItem of
	// TouchLastUsed names: the key (token), the condition that it is a
	// token that still exists (tokenUUID), and lastUsedAt, which it sets
	// and compares. DynamoDB evaluates dynamodb:Attributes against every
	// attribute a request names, its key included.
	lastUsedAttributes = []string{schema.AttrToken, schema.AttrTokenUUID, schema.AttrLastUsedAt}
	// cursorKeyActions let the events function create the item that seals
	// its page cursors (schema.CursorKeyItem) when it is the first to need
	// it; the statement admits that one partition key only.
	cursorKeyActions = []string{"dynamodb:PutItem"}
	// serveUsageActions are the serve path's on the usage table itself
	// (pkg/usage's DynamoDB store): UpdateItem adds to a day's counters
	// (admitting a call, taking an admission back, recording what it
	// used), GetItem reads a day, and Query sums the month's days of one
	// token. Its indexes are the usage function's alone.
	serveUsageActions = []string{"dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"}
	// usageReadActions are the usage function's only grant on the usage
	// table: Query on the table (one token's days) and on its indexes (a
	// user's tokens, every token in a month). Nothing scans it.
	usageReadActions = []string{"dynamodb:Query"}
	// vpcAccessActions let Lambda manage the serve function's network
	// interfaces when it runs in a VPC: the EC2 actions of the AWS managed
	// policy AWSLambdaVPCAccessExecutionRole, which CDK attaches only to
	// roles it creates for a function itself. None takes a resource Lambda
	// could name in advance, so they are granted on "*".
	vpcAccessActions = []string{
		"ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
		"ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
	}
)

// Function sizes. Token functions answer API Gateway (29 s integration
// limit); serve waits for a model.
const (
	tokenFnMemoryMB      = 256
	tokenFnTimeoutSec    = 15
	authorizerMemoryMB   = 256
	authorizerTimeoutSec = 10
	serveMemoryMB        = 512
)

// retentionDays maps days to the values CloudWatch Logs accepts.
var retentionDays = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS,
	5: awslogs.RetentionDays_FIVE_DAYS, 7: awslogs.RetentionDays_ONE_WEEK,
	14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS,
	120: awslogs.RetentionDays_FOUR_MONTHS, 150: awslogs.RetentionDays_FIVE_MONTHS,
	180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS,
	731: awslogs.RetentionDays_TWO_YEARS, 1096: awslogs.RetentionDays_THREE_YEARS,
	1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS,
	3288: awslogs.RetentionDays_NINE_YEARS, 3653: awslogs.RetentionDays_TEN_YEARS,
}

// functions are the deployed Lambda functions by routes.Fn* name.
type functions struct {
	ByName map[string]awslambda.Function
	// TokenRole is ApiTokensApiRole, created or imported.
	TokenRole awsiam.IRole
	// TokenRoleImported is true when roles.ApiTokensApiRole named a role.
	TokenRoleImported bool
	// EventsRole runs the events function: reads only, so it is never
	// ApiTokensApiRole, which writes.
	EventsRole awsiam.Role
	// UsageRole runs the usage function: reads only, like EventsRole.
	UsageRole awsiam.Role
	// AuthorizerRole runs the authorizer.
	AuthorizerRole awsiam.Role
	// ServeRole runs the serve function; ServeInVpc says serve.vpc placed
	// it in a VPC (and ServeRole may manage its network interfaces).
	ServeRole  awsiam.Role
	ServeInVpc bool
}

// tables are the tables the functions use.
type tables struct {
	Tokens, Audit, Usage dynamoTable
}

// tokenRoleFunctions run as ApiTokensApiRole: the token functions that
// write (and list and get, which LISA's single role covers too).
var tokenRoleFunctions = []string{
	routes.FnCreate, routes.FnList, routes.FnGet, routes.FnDelete, routes.FnSettings,
	routes.FnUpdate, routes.FnRotate,
}

// limitsResolvers are the token functions that resolve a token's
// effective limits (views, and the check that a user does not raise
// their own): they read DEFAULT_TOKEN_LIMITS and GROUP_TOKEN_LIMITS.
var limitsResolvers = []string{routes.FnCreate, routes.FnUpdate, routes.FnList, routes.FnGet}

// auditWriters are the functions that record changes in the audit table.
var auditWriters = []string{routes.FnCreate, routes.FnDelete, routes.FnSettings, routes.FnUpdate, routes.FnRotate}

// CheckBuildDir reports a missing bootstrap binary before CDK fails with a
// less helpful asset error.
func CheckBuildDir(dir string) error {
	for _, name := range functionNames {
		p := filepath.Join(dir, name, "bootstrap")
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s is missing: run `make build` first (or point %s at a directory with <function>/bootstrap)", p, EnvBuildDir)
		}
	}
	return nil
}

// newFunctions builds every function, its log group and its role.
// serveVpc, if not nil, places the serve function in a VPC.
func newFunctions(scope constructs.Construct, cfg *Config, tb tables, buildDir string, serveVpc *vpcPlacement) *functions {
	fs := &functions{ByName: map[string]awslambda.Function{}}
	tt := tb.Tokens
	base := baseEnv(cfg, tt)

	// The token functions share ApiTokensApiRole, as LISA's role
	// override expects one role for them. settings reads and writes one
	// reserved item (GetItem, PutItem), which the role already allows.
	if r := cfg.Roles.APITokensAPIRole; r != "" {
		fs.TokenRoleImported = true
		// Mutable false: CDK must not attach policies to a role the
		// deployment owner manages; that role must already allow what the
		// statements below grant (see config-custom.example.yaml).
		if strings.HasPrefix(r, "arn:") {
			fs.TokenRole = awsiam.Role_FromRoleArn(scope, jsii.String("ApiTokensApiRole"), jsii.String(r), &awsiam.FromRoleArnOptions{Mutable: jsii.Bool(false)})
		} else {
			fs.TokenRole = awsiam.Role_FromRoleName(scope, jsii.String("ApiTokensApiRole"), jsii.String(r), &awsiam.FromRoleNameOptions{Mutable: jsii.Bool(false)})
		}
	} else {
		role := newLambdaRole(scope, "ApiTokensApiRole", "API token management functions ("+strings.Join(tokenRoleFunctions, ", ")+")")
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("TokenTable"),
			Actions:   jsii.Strings(tokenTableActions...),
			Resources: &[]*string{tt.Table.TableArn()},
		}))
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("TokenTableIndexes"),
			Actions:   jsii.Strings(tokenIndexActions...),
			Resources: &tt.IndexARNs,
		}))
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("AuditTableWrite"),
			Actions:   jsii.Strings(auditWriteActions...),
			Resources: &[]*string{tb.Audit.Table.TableArn()},
		}))
		fs.TokenRole = role
	}
	// TOKEN_CACHE_SECONDS is also how long a token function reuses a read
	// of the settings: the bound for a PUT /settings to reach every instance.
	cacheEnv := map[string]string{config.EnvTokenCacheSeconds: strconv.Itoa(*cfg.APITokens.TokenCacheSeconds)}
	tokenEnv := withEnv(base, cacheEnv)
	auditTable := map[string]string{config.EnvAuditTableName: *tb.Audit.Table.TableName()}
	writerEnv := withEnv(withEnv(tokenEnv, auditTable), map[string]string{
		config.EnvAuditRetentionDays: strconv.Itoa(*cfg.APITokens.AuditRetentionDays),
	})
	for _, name := range tokenRoleFunctions {
		env := tokenEnv
		if slices.Contains(auditWriters, name) {
			env = writerEnv
		}
		if slices.Contains(limitsResolvers, name) {
			env = withEnv(env, limitsEnvironment(cfg))
		}
		fs.ByName[name] = newFunction(scope, cfg, buildDir, name, fs.TokenRole, !fs.TokenRoleImported, env, tokenFnMemoryMB, tokenFnTimeoutSec, nil)
	}

	// events reads the audit trail and nothing it could change: created
	// here even with roles.ApiTokensApiRole, as the authorizer's role is,
	// since that role writes.
	fs.EventsRole = newLambdaRole(scope, "EventsRole", "API token audit events (read-only)")
	grantEventsRead(fs.EventsRole, tb)
	fs.ByName[routes.FnEvents] = newFunction(scope, cfg, buildDir, routes.FnEvents, fs.EventsRole, true,
		withEnv(tokenEnv, auditTable), tokenFnMemoryMB, tokenFnTimeoutSec, nil)

	// usage reads the usage table and, to check who owns a token, the
	// token table: its own role, created even with roles.ApiTokensApiRole.
	fs.UsageRole = newLambdaRole(scope, "UsageRole", "API token usage (read-only)")
	grantUsageRead(fs.UsageRole, tb)
	fs.ByName[routes.FnUsage] = newFunction(scope, cfg, buildDir, routes.FnUsage, fs.UsageRole, true,
		withEnv(withEnv(tokenEnv, limitsEnvironment(cfg)), map[string]string{config.EnvUsageTableName: *tb.Usage.Table.TableName()}),
		tokenFnMemoryMB, tokenFnTimeoutSec, nil)

	authRole := newLambdaRole(scope, "AuthorizerRole", "API token REQUEST authorizer (token lookups, lastUsedAt)")
	grantRead(authRole, tt)
	grantLastUsed(authRole, cfg, tt)
	fs.AuthorizerRole = authRole
	fs.ByName[routes.FnAuthorizer] = newFunction(scope, cfg, buildDir, routes.FnAuthorizer, authRole, true,
		withEnv(withEnv(base, cacheEnv), lastUsedEnv(cfg)), authorizerMemoryMB, authorizerTimeoutSec, nil)

	if cfg.ServeContainer() {
		// serve.mode: container runs the serve binary on Fargate
		// (container.go) instead.
		return fs
	}
	serveRole := newLambdaRole(scope, "ServeRole", "/v2/serve/* function (token lookups, lastUsedAt)")
	grantRead(serveRole, tt)
	grantLastUsed(serveRole, cfg, tt)
	grantServeUsage(serveRole, tb.Usage)
	serveEnv := serveEnvironment(cfg, tb)
	if arn := cfg.Serve.UpstreamAPIKeySecretARN; arn != "" {
		// Only the ARN travels in the environment; the function reads the
		// value at start-up, so the key never appears in the template.
		serveEnv[config.EnvServeUpstreamKeyARN] = arn
		serveRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("UpstreamApiKey"),
			Actions:   jsii.Strings("secretsmanager:GetSecretValue"),
			Resources: jsii.Strings(arn),
		}))
	}
	if serveVpc != nil {
		// Lambda creates the function's network interfaces with its
		// role, so the statement must exist before the function (CDK
		// makes the function depend on the role's policy).
		serveRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("VpcNetworkInterfaces"),
			Actions:   jsii.Strings(vpcAccessActions...),
			Resources: jsii.Strings("*"),
		}))
	}
	fs.ServeRole, fs.ServeInVpc = serveRole, serveVpc != nil
	fs.ByName[routes.FnServe] = newFunction(scope, cfg, buildDir, routes.FnServe, serveRole, true,
		serveEnv, serveMemoryMB, cfg.ServeFunctionTimeoutSeconds(), serveVpc)
	if cfg.InsecureUpstream() {
		awscdk.Annotations_Of(fs.ByName[routes.FnServe]).AddWarningV2(jsii.String("apitokens:insecure-upstream"),
			jsii.String(insecureUpstreamWarning))
	}

	return fs
}

// lastUsedEnv is LAST_USED_RESOLUTION_SECONDS, for the functions that
// record lastUsedAt (the authorizer and serve, in either mode).
func lastUsedEnv(cfg *Config) map[string]string {
	return map[string]string{config.EnvLastUsedResolution: strconv.Itoa(*cfg.APITokens.LastUsedResolutionSeconds)}
}

// serveEnvironment is what the serve binary reads, in either mode, but for
// the upstream key, which each mode passes its own way.
func serveEnvironment(cfg *Config, tb tables) map[string]string {
	env := withEnv(baseEnv(cfg, tb.Tokens), map[string]string{config.EnvTokenCacheSeconds: strconv.Itoa(*cfg.APITokens.TokenCacheSeconds)})
	env = withEnv(env, lastUsedEnv(cfg))
	env = withEnv(env, serveLimitsEnvironment(cfg, *tb.Usage.Table.TableName()))
	env[config.EnvServeUpstreamURL] = strings.TrimRight(cfg.Serve.UpstreamURL, "/")
	env[config.EnvServeTimeoutSeconds] = strconv.Itoa(cfg.Serve.UpstreamTimeoutSeconds)
	if mp, _ := cfg.modelPermissionsJSON(); mp != "" { // validated in ParseConfig
		env[config.EnvModelPermissions] = mp
	}
	if cfg.InsecureUpstream() {
		// The binary applies the same clear-text rule at start-up.
		env[config.EnvServeAllowInsecure] = "true"
	}
	if d := cfg.Serve.ModelPermissionsDefault; d != "" {
		env[config.EnvModelPermsDefault] = d
	}
	return env
}

const insecureUpstreamWarning = "serve.allowInsecureUpstream is set and serve.upstreamUrl is plain http: the upstream's API key and every prompt and answer cross the network in clear text; use it only on a network you trust"

func grantRead(role awsiam.Role, tt dynamoTable) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("TokenTableRead"),
		Actions:   jsii.Strings(readTokenActions...),
		Resources: &[]*string{tt.Table.TableArn()},
	}))
}

// grantLastUsed lets role set lastUsedAt on token items and nothing else:
// UpdateItem only when every attribute the request names is one of
// lastUsedAttributes (Null false: a request that names none is no
// exception), and without returning the item (ReturnValues absent or
// NONE), so the grant can neither change nor read anything else. With
// apiTokens.lastUsedResolutionSeconds 0 nothing is written, and nothing is
// granted.
func grantLastUsed(role awsiam.Role, cfg *Config, tt dynamoTable) {
	if *cfg.APITokens.LastUsedResolutionSeconds == 0 {
		return
	}
	role.AddToPrincipalPolicy(lastUsedStatement(tt))
}

func lastUsedStatement(tt dynamoTable) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("TokenLastUsed"),
		Actions:   jsii.Strings(lastUsedActions...),
		Resources: &[]*string{tt.Table.TableArn()},
		Conditions: &map[string]any{
			"ForAllValues:StringEquals": map[string]any{"dynamodb:Attributes": lastUsedAttributes},
			"Null":                      map[string]any{"dynamodb:Attributes": "false"},
			"StringEqualsIfExists":      map[string]any{"dynamodb:ReturnValues": []string{"NONE"}},
		},
	})
}

// grantEventsRead is the events function's access: the audit table and
// its indexes for Query only; on the token table GetItem (re-deciding API
// token calls, the settings, the cursor key) and Query on tokenUUID-index
// (the token's owner, for a caller who is not an admin); and the creation
// of the cursor key item, when no function has made it yet, limited to
// that one partition key.
func grantEventsRead(role awsiam.Role, tb tables) {
	grantRead(role, tb.Tokens)
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("TokenUUIDIndex"),
		Actions:   jsii.Strings(tokenIndexActions...),
		Resources: &[]*string{tb.Tokens.IndexARN[schema.IndexTokenUUID]},
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("CursorKeyItem"),
		Actions:   jsii.Strings(cursorKeyActions...),
		Resources: &[]*string{tb.Tokens.Table.TableArn()},
		Conditions: &map[string]any{
			"ForAllValues:StringEquals": map[string]any{"dynamodb:LeadingKeys": []string{schema.CursorKeyItem}},
			"Null":                      map[string]any{"dynamodb:LeadingKeys": "false"},
		},
	}))
	audit := append([]*string{tb.Audit.Table.TableArn()}, tb.Audit.IndexARNs...)
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("AuditTableRead"),
		Actions:   jsii.Strings(auditReadActions...),
		Resources: &audit,
	}))
}

// grantServeUsage is the serve path's access to the usage table (Lambda
// role or Fargate task role): serveUsageActions on the table, nothing on
// its indexes.
func grantServeUsage(role awsiam.Role, ut dynamoTable) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("UsageTable"),
		Actions:   jsii.Strings(serveUsageActions...),
		Resources: &[]*string{ut.Table.TableArn()},
	}))
}

// grantUsageRead is the usage function's access: Query on the usage table
// and its two indexes; on the token table GetItem (re-deciding API token
// calls, the settings) and Query on tokenUUID-index (a token's owner, for
// a caller who is not an admin). It writes nothing: its answers have no
// page cursors, so it never needs the cursor key item.
func grantUsageRead(role awsiam.Role, tb tables) {
	grantRead(role, tb.Tokens)
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("TokenUUIDIndex"),
		Actions:   jsii.Strings(tokenIndexActions...),
		Resources: &[]*string{tb.Tokens.IndexARN[schema.IndexTokenUUID]},
	}))
	usage := append([]*string{tb.Usage.Table.TableArn()}, tb.Usage.IndexARNs...)
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("UsageTableRead"),
		Actions:   jsii.Strings(usageReadActions...),
		Resources: &usage,
	}))
}

// newLambdaRole is an execution role with no managed policies: logging is
// granted per log group instead of AWSLambdaBasicExecutionRole's logs:* on *.
func newLambdaRole(scope constructs.Construct, id, purpose string) awsiam.Role {
	return awsiam.NewRole(scope, jsii.String(id), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Execution role: " + purpose),
	})
}

// baseEnv is what every function reads through pkg/config. Empty optional
// values are left out, so the binaries apply their own defaults.
func baseEnv(cfg *Config, tt dynamoTable) map[string]string {
	a := cfg.AuthConfig
	// AUTHORITY is compared with the tokens' "iss" exactly: Auth0 and Entra
	// ID v1 issuers end in "/", and trimming it would refuse every JWT.
	env := map[string]string{
		config.EnvTableName:           *tt.Table.TableName(),
		config.EnvAuthority:           a.Authority,
		config.EnvClientID:            a.ClientID,
		config.EnvAdminGroup:          a.AdminGroup,
		config.EnvUserGroup:           a.UserGroup,
		config.EnvAPIGroup:            a.APIGroup,
		config.EnvJWTGroupsProperty:   a.JWTGroupsProperty,
		config.EnvJWTUsernameProperty: strings.TrimSpace(a.JWTUsernameProperty),
		config.EnvLogLevel:            cfg.LogLevel,
		config.EnvAllowUserManaged:    strconv.FormatBool(*cfg.APITokens.AllowUserManagedTokens),
	}
	if d := cfg.APITokens.DefaultTokenDays; d > 0 {
		env[config.EnvDefaultTokenDays] = strconv.Itoa(d)
	}
	if d := cfg.APITokens.MaxTokenDays; d > 0 {
		env[config.EnvMaxTokenDays] = strconv.Itoa(d)
	}
	// Every function that creates or authenticates tokens reads the
	// format: the token functions re-decide API token calls themselves.
	env[envTokenFormat] = cfg.APITokens.TokenFormat
	env[envTokenPrefix] = cfg.APITokens.TokenPrefix // "" (left out) unless prefixed
	for k, v := range env {
		if v == "" {
			delete(env, k)
		}
	}
	return env
}

func withEnv(base, extra map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(extra))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// newFunction builds one Go function from buildDir/<name>/bootstrap with an
// explicit log group (retention and removal from the config). When the role
// was created here, it may write to that log group and no other.
// vpc, if not nil, places the function in a VPC.
func newFunction(scope constructs.Construct, cfg *Config, buildDir, name string, role awsiam.IRole, grantLogs bool, env map[string]string, memoryMB, timeoutSec int, vpc *vpcPlacement) awslambda.Function {
	id := "Fn" + strings.ToUpper(name[:1]) + name[1:]
	removal := awscdk.RemovalPolicy_RETAIN
	if cfg.RemovalPolicy == "destroy" {
		removal = awscdk.RemovalPolicy_DESTROY
	}
	// Without this group Lambda would create /aws/lambda/<name> itself,
	// with no retention and outside the stack.
	lg := awslogs.NewLogGroup(scope, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention:     retentionDays[cfg.LogRetentionDays],
		RemovalPolicy: removal,
	})
	if grantLogs {
		lg.GrantWrite(role)
	}
	envp := make(map[string]*string, len(env))
	for k, v := range env {
		envp[k] = jsii.String(v)
	}
	var reserved *float64
	if rc := cfg.Functions[name].ReservedConcurrency; rc != nil {
		reserved = jsii.Number(float64(*rc))
	}
	props := &awslambda.FunctionProps{
		Description:  jsii.String(fmt.Sprintf("%s %s (%s)", cfg.DeploymentName, name, cfg.DeploymentStage)),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         awslambda.Code_FromAsset(jsii.String(filepath.Join(buildDir, name)), nil),
		MemorySize:   jsii.Number(float64(memoryMB)),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(float64(timeoutSec))),
		Role:         role,
		Environment:  &envp,
		LogGroup:     lg,

		ReservedConcurrentExecutions: reserved,
	}
	if vpc != nil {
		props.Vpc, props.VpcSubnets = vpc.Vpc, vpc.Subnets
		props.SecurityGroups = &vpc.SecurityGroups
	}
	return awslambda.NewFunction(scope, jsii.String(id), props)
}
