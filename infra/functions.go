package main

import (
	"fmt"
	"os"
	"path/filepath"
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
)

// DynamoDB actions of the four token functions (pkg/store's operations):
// TransactWriteItems is authorized per item, so create and delete need
// PutItem and DeleteItem (the transactions hold conditional puts and
// deletes only, never a ConditionCheck); GetItem reads by hash and checks a
// guard before reclaiming it; Scan
// lists everything and finds legacy items. Query is only ever used on the
// indexes (GetByUUID, List by username), so it is granted there alone.
var (
	tokenTableActions = []string{
		"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem",
		"dynamodb:Scan",
	}
	tokenIndexActions = []string{"dynamodb:Query"}
	// readTokenActions is all the authorizer and serve functions need: one
	// strongly consistent GetItem per presented API token.
	readTokenActions = []string{"dynamodb:GetItem"}
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
	// ServeRole runs the serve function; ServeInVpc says serve.vpc placed
	// it in a VPC (and ServeRole may manage its network interfaces).
	ServeRole  awsiam.Role
	ServeInVpc bool
}

// CheckBuildDir reports a missing bootstrap binary before CDK fails with a
// less helpful asset error.
func CheckBuildDir(dir string) error {
	for _, name := range []string{routes.FnCreate, routes.FnList, routes.FnGet, routes.FnDelete, routes.FnSettings, routes.FnServe, routes.FnAuthorizer} {
		p := filepath.Join(dir, name, "bootstrap")
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s is missing: run `make build` first (or point %s at a directory with <function>/bootstrap)", p, EnvBuildDir)
		}
	}
	return nil
}

// newFunctions builds every function, its log group and its role.
// serveVpc, if not nil, places the serve function in a VPC.
func newFunctions(scope constructs.Construct, cfg *Config, tt tokenTable, buildDir string, serveVpc *vpcPlacement) *functions {
	fs := &functions{ByName: map[string]awslambda.Function{}}
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
		role := newLambdaRole(scope, "ApiTokensApiRole", "API token management functions (create, list, get, delete, settings)")
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
		fs.TokenRole = role
	}
	// TOKEN_CACHE_SECONDS is also how long a token function reuses a read
	// of the settings: the bound for a PUT /settings to reach every instance.
	cacheEnv := map[string]string{config.EnvTokenCacheSeconds: strconv.Itoa(*cfg.APITokens.TokenCacheSeconds)}
	tokenEnv := withEnv(base, cacheEnv)
	for _, name := range []string{routes.FnCreate, routes.FnList, routes.FnGet, routes.FnDelete, routes.FnSettings} {
		fs.ByName[name] = newFunction(scope, cfg, buildDir, name, fs.TokenRole, !fs.TokenRoleImported, tokenEnv, tokenFnMemoryMB, tokenFnTimeoutSec, nil)
	}

	authRole := newLambdaRole(scope, "AuthorizerRole", "API token REQUEST authorizer (read-only)")
	grantRead(authRole, tt)
	fs.ByName[routes.FnAuthorizer] = newFunction(scope, cfg, buildDir, routes.FnAuthorizer, authRole, true,
		withEnv(base, cacheEnv), authorizerMemoryMB, authorizerTimeoutSec, nil)

	if cfg.ServeContainer() {
		// serve.mode: container runs the serve binary on Fargate
		// (container.go) instead.
		return fs
	}
	serveRole := newLambdaRole(scope, "ServeRole", "/v2/serve/* function (read-only token lookups)")
	grantRead(serveRole, tt)
	serveEnv := serveEnvironment(cfg, tt)
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

// serveEnvironment is what the serve binary reads, in either mode, but for
// the upstream key, which each mode passes its own way.
func serveEnvironment(cfg *Config, tt tokenTable) map[string]string {
	env := withEnv(baseEnv(cfg, tt), map[string]string{config.EnvTokenCacheSeconds: strconv.Itoa(*cfg.APITokens.TokenCacheSeconds)})
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

func grantRead(role awsiam.Role, tt tokenTable) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("TokenTableRead"),
		Actions:   jsii.Strings(readTokenActions...),
		Resources: &[]*string{tt.Table.TableArn()},
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
func baseEnv(cfg *Config, tt tokenTable) map[string]string {
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
