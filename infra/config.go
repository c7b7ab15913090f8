package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/routes"
	"github.com/llmgw/apitokens/pkg/secret"
	"github.com/llmgw/apitokens/pkg/serve"
)

// functionNames are the keys of the functions section.
// Every name is a Lambda function built as <build dir>/<name>/bootstrap.
var functionNames = []string{
	routes.FnCreate, routes.FnList, routes.FnGet, routes.FnDelete, routes.FnSettings,
	routes.FnUpdate, routes.FnRotate, routes.FnEvents, routes.FnUsage, routes.FnAuthorizer, routes.FnServe,
}

// ConfigFileName is the deployment configuration read from the repository
// root (git-ignored; config-custom.example.yaml is the documented template).
const ConfigFileName = "config-custom.yaml"

// Defaults for keys a deployment may leave out.
const (
	defaultLogRetentionDays       = 90
	defaultThrottleRate           = 50
	defaultThrottleBurst          = 100
	defaultServeTimeoutSeconds    = 120
	defaultMinIdleTimeoutSeconds  = 300
	defaultListenerRulePriority   = 100
	defaultTokenCacheSeconds      = 10
	maxLambdaTimeoutSeconds       = 900
	maxAuthorizerCacheSeconds     = 3600
	maxModelPermissionsJSONLength = 2048 // Lambda allows 4 KB of environment in total
	defaultAuditRetentionDays     = 365
	maxAuditRetentionDays         = 3650 // ten years, as config.MaxTokenDaysLimit
	defaultLastUsedResolution     = 300
	maxLastUsedResolution         = 86400
	defaultTokenPrefix            = config.DefaultTokenPrefix
)

// Values of apiTokens.tokenFormat (TOKEN_FORMAT).
const (
	TokenFormatHex      = config.TokenFormatHex      // 128 lowercase hex characters (the default)
	TokenFormatPrefixed = config.TokenFormatPrefixed // <tokenPrefix>_ + base62 secret + checksum
)

// Config is config-custom.yaml. The first keys are the ones LISA deployments
// already use; apiTokens, serve and network are this project's.
type Config struct {
	DeploymentName   string `yaml:"deploymentName"`
	DeploymentStage  string `yaml:"deploymentStage"`
	Region           string `yaml:"region"`
	AccountNumber    string `yaml:"accountNumber"`
	RemovalPolicy    string `yaml:"removalPolicy"`
	LogLevel         string `yaml:"logLevel"`
	LogRetentionDays int    `yaml:"logRetentionDays"`
	// WafWebACLArn, if set, is a regional WAFv2 web ACL associated with the
	// API stage and with a new ALB.
	WafWebACLArn string     `yaml:"wafWebAclArn"`
	AuthConfig   AuthConfig `yaml:"authConfig"`
	Roles        Roles      `yaml:"roles"`
	APITokens    APITokens  `yaml:"apiTokens"`
	Serve        Serve      `yaml:"serve"`
	Network      Network    `yaml:"network"`
	// Console hosts the web console (build/web) on CloudFront.
	Console Console `yaml:"console"`
	// Functions holds per-function settings by routes.Fn* name.
	Functions map[string]FunctionSettings `yaml:"functions"`
	// Limits and Usage: rate limits, quotas and budgets per token, and
	// the usage the serve path records (limits_config.go).
	Limits Limits `yaml:"limits"`
	Usage  Usage  `yaml:"usage"`
}

// FunctionSettings tunes one Lambda function.
type FunctionSettings struct {
	// ReservedConcurrency reserves (and caps) the function's concurrent
	// executions; nil leaves it unreserved.
	ReservedConcurrency *int `yaml:"reservedConcurrency"`
}

// AuthConfig is the OIDC and group configuration (authConfig, as LISA names it).
type AuthConfig struct {
	Authority         string `yaml:"authority"`
	ClientID          string `yaml:"clientId"`
	AdminGroup        string `yaml:"adminGroup"`
	UserGroup         string `yaml:"userGroup"`
	APIGroup          string `yaml:"apiGroup"`
	JWTGroupsProperty string `yaml:"jwtGroupsProperty"`
	// JWTUsernameProperty is the claim that names a JWT user; empty means
	// the functions' default (cognito:username, username,
	// preferred_username, sub: the first present).
	JWTUsernameProperty string `yaml:"jwtUsernameProperty"`
}

// Roles names existing IAM roles to use instead of creating them.
type Roles struct {
	// APITokensAPIRole is a role name or ARN for the four token functions.
	APITokensAPIRole string `yaml:"ApiTokensApiRole"`
}

// APITokens holds token lifetime rules, caching and API limits.
type APITokens struct {
	DefaultTokenDays       int   `yaml:"defaultTokenDays"`
	MaxTokenDays           int   `yaml:"maxTokenDays"`
	AllowUserManagedTokens *bool `yaml:"allowUserManagedTokens"`
	// TokenCacheSeconds is the in-process cache of the authorizer and the
	// serve function: the worst-case delay before a revocation takes effect.
	TokenCacheSeconds *int `yaml:"tokenCacheSeconds"`
	// AuthorizerCacheSeconds is API Gateway's authorizer result cache. Above
	// 0 the cache is keyed on the Authorization header, so requests that
	// carry only Api-Key are refused by API Gateway.
	AuthorizerCacheSeconds int        `yaml:"authorizerCacheSeconds"`
	Throttling             Throttling `yaml:"throttling"`
	// CreateCloudWatchRole sets the account's API Gateway CloudWatch Logs
	// role (needed for stage logging), a setting shared by every API in the
	// account and region; off by default, so a stack never takes it over.
	CreateCloudWatchRole *bool `yaml:"createCloudWatchRole"`
	// AuditRetentionDays is how long an audit event is kept: the audit
	// table's TTL expires it that many days after the change.
	AuditRetentionDays *int `yaml:"auditRetentionDays"`
	// LastUsedResolutionSeconds is how often, at most, the authorizer and
	// serve write a token's lastUsedAt; 0 never writes it.
	LastUsedResolutionSeconds *int `yaml:"lastUsedResolutionSeconds"`
	// TokenFormat is the format of new tokens: TokenFormatHex or
	// TokenFormatPrefixed (then both formats authenticate).
	TokenFormat string `yaml:"tokenFormat"`
	// TokenPrefix starts every prefixed token ("lisa_..."); it applies
	// only with TokenFormatPrefixed.
	TokenPrefix string `yaml:"tokenPrefix"`
}

// Throttling is the API Gateway stage throttle.
type Throttling struct {
	RateLimit  int `yaml:"rateLimit"`
	BurstLimit int `yaml:"burstLimit"`
}

// Serve configures the /v2/serve/* function.
type Serve struct {
	UpstreamURL             string `yaml:"upstreamUrl"`
	UpstreamAPIKeySecretARN string `yaml:"upstreamApiKeySecretArn"`
	UpstreamTimeoutSeconds  int    `yaml:"upstreamTimeoutSeconds"`
	// AllowInsecureUpstream accepts a plain-http upstreamUrl whose host is
	// not loopback: the upstream's API key and every prompt then cross
	// that network in clear text.
	AllowInsecureUpstream bool `yaml:"allowInsecureUpstream"`
	// ModelPermissions maps a model id to the groups allowed to use it.
	ModelPermissions map[string][]string `yaml:"modelPermissions"`
	// ModelPermissionsDefault is what a model ModelPermissions does not
	// list is open to: config.ModelsOpen (every caller; the functions'
	// default when unset) or config.ModelsDeny (admins only).
	ModelPermissionsDefault string `yaml:"modelPermissionsDefault"`
	// Vpc places the serve function in a VPC, so a private upstream can
	// stay private.
	Vpc ServeVpc `yaml:"vpc"`
	// Mode runs the serve binary as the ALB's Lambda target
	// (ServeModeLambda, the default) or as a Fargate service behind it
	// (ServeModeContainer), sized by Container.
	Mode      string         `yaml:"mode"`
	Container ServeContainer `yaml:"container"`
}

// Serve modes.
const (
	ServeModeLambda    = "lambda"
	ServeModeContainer = "container"
)

// ServeContainer sizes the Fargate service of serve.mode: container.
type ServeContainer struct {
	CPU          int `yaml:"cpu"`
	MemoryMiB    int `yaml:"memoryMiB"`
	DesiredCount int `yaml:"desiredCount"`
	MinCount     int `yaml:"minCount"`
	MaxCount     int `yaml:"maxCount"`
	// TargetCPUPercent is the average CPU the service scales to keep.
	TargetCPUPercent int `yaml:"targetCpuPercent"`
	// DrainSeconds is the ALB's deregistration delay: how long a task
	// being replaced or scaled in keeps its in-flight requests.
	DrainSeconds int `yaml:"drainSeconds"`
}

// Container defaults and limits.
const (
	defaultContainerCPU          = 512
	defaultContainerMemoryMiB    = 1024
	defaultContainerDesiredCount = 2
	defaultContainerMaxCount     = 10
	defaultContainerTargetCPU    = 60
	defaultContainerDrainSeconds = 30
	maxContainerDrainSeconds     = 3600 // the ALB's deregistration delay limit
	maxContainerTasks            = 1000
)

// fargateMemoryMiB is, per Fargate CPU size, the smallest and largest
// memory it accepts and the step between them.
var fargateMemoryMiB = map[int][3]int{
	256:  {512, 2048, 512}, // but not 1536: see fargateMemoryOK
	512:  {1024, 4096, 1024},
	1024: {2048, 8192, 1024},
	2048: {4096, 16384, 1024},
	4096: {8192, 30720, 1024},
}

// fargateMemoryOK is true for a CPU and memory pair Fargate offers.
func fargateMemoryOK(cpu, mem int) bool {
	r, ok := fargateMemoryMiB[cpu]
	if !ok || mem < r[0] || mem > r[1] || (mem-r[0])%r[2] != 0 {
		return false
	}
	return cpu != 256 || mem != 1536
}

// ServeContainer is true for serve.mode: container.
func (c *Config) ServeContainer() bool { return c.Serve.Mode == ServeModeContainer }

// ServeVpc places the serve function: with Enabled alone, in the isolated
// subnets of the VPC this stack creates; with SubnetIDs and
// SecurityGroupIDs, in those subnets of an existing VPC (VpcID, or
// network.vpcId).
type ServeVpc struct {
	Enabled          bool     `yaml:"enabled"`
	VpcID            string   `yaml:"vpcId"`
	SubnetIDs        []string `yaml:"subnetIds"`
	SecurityGroupIDs []string `yaml:"securityGroupIds"`
}

// Lambda's limits on a function's VpcConfig.
const (
	maxLambdaSubnets        = 16
	maxLambdaSecurityGroups = 5
	// An ECS service takes at most five security groups too.
	maxServiceSecurityGroups = 5
)

// ServeInStackVpc is true when the serve function goes into the VPC this
// stack creates.
func (c *Config) ServeInStackVpc() bool {
	v := c.Serve.Vpc
	return v.Enabled && len(v.SubnetIDs) == 0 && len(v.SecurityGroupIDs) == 0 && v.VpcID == ""
}

// ServeVpcID is the VPC of explicitly configured serve subnets.
func (c *Config) ServeVpcID() string {
	if id := c.Serve.Vpc.VpcID; id != "" {
		return id
	}
	return c.Network.VpcID
}

// StackCreatesVpc is true when there is neither an existing listener nor an
// existing VPC: the ALB goes into a VPC of this stack.
func (c *Config) StackCreatesVpc() bool {
	return c.Network.ExistingListener.ARN == "" && c.Network.VpcID == ""
}

// Network places the ALB: a new VPC and ALB by default, an existing VPC for
// a new ALB, or an existing HTTPS listener that only gets a rule.
type Network struct {
	// VpcID selects an existing VPC for a new ALB. With SubnetIDs and
	// AvailabilityZones (one zone per subnet) synth needs no AWS access;
	// with VpcID alone the VPC is looked up, which needs credentials.
	VpcID             string   `yaml:"vpcId"`
	SubnetIDs         []string `yaml:"subnetIds"`
	AvailabilityZones []string `yaml:"availabilityZones"`
	// MaxAzs sizes a new VPC.
	MaxAzs               int      `yaml:"maxAzs"`
	CertificateARN       string   `yaml:"certificateArn"`
	InternetFacing       *bool    `yaml:"internetFacing"`
	AllowedCidrs         []string `yaml:"allowedCidrs"`
	IdleTimeoutSeconds   int      `yaml:"idleTimeoutSeconds"`
	ListenerRulePriority int      `yaml:"listenerRulePriority"`
	ExistingListener     Listener `yaml:"existingListener"`
	// LoadBalancerDeletionProtection defaults to true when removalPolicy
	// is retain.
	LoadBalancerDeletionProtection *bool `yaml:"loadBalancerDeletionProtection"`
}

// Listener identifies an existing HTTPS listener of an existing ALB.
type Listener struct {
	ARN             string `yaml:"arn"`
	SecurityGroupID string `yaml:"securityGroupId"`
	DNSName         string `yaml:"dnsName"` // for the stack output only
}

// LoadConfig reads and validates the configuration file at path.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s not found: copy config-custom.example.yaml to %s and edit it (or set CONFIG_FILE)", path, ConfigFileName)
	}
	if err != nil {
		return nil, err
	}
	return ParseConfig(path, data)
}

// yamlTypeKeys maps Go type names in yaml.v3 errors back to config keys.
var yamlTypeKeys = map[string]string{
	"Config":     "(top level)",
	"AuthConfig": "authConfig",
	"Roles":      "roles",
	"APITokens":  "apiTokens",
	"Throttling": "apiTokens.throttling",
	"Serve":      "serve",
	"ServeVpc":   "serve.vpc",
	// ServeContainer is serve.container.
	"ServeContainer": "serve.container",
	"Network":        "network",
	"Listener":       "network.existingListener",
	"Console":        "console",
	"Limits":         "limits",
	"Usage":          "usage",
	// Functions is a map: the line annotation names the function.
	"FunctionSettings": "functions.<name>",
}

var unknownFieldRE = regexp.MustCompile(`field (\S+) not found in type main\.(\w+)`)

// ParseConfig decodes data (named name in messages), rejecting unknown keys,
// then fills defaults and validates. Every error names the offending key.
func ParseConfig(name string, data []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: file is empty", name)
		}
		return nil, fmt.Errorf("%s: %s", name, describeYAMLError(data, err))
	}
	c.applyDefaults()
	if err := c.validate(); err != nil {
		return nil, prefixErrors(name, err)
	}
	return &c, nil
}

var errLineRE = regexp.MustCompile(`line (\d+): `)

// describeYAMLError rewrites yaml.v3's messages in terms of config keys:
// Go type names become key paths, and each "line N:" gains the key there.
func describeYAMLError(data []byte, err error) string {
	msg := unknownFieldRE.ReplaceAllStringFunc(err.Error(), func(m string) string {
		s := unknownFieldRE.FindStringSubmatch(m)
		return fmt.Sprintf("unknown key %q in %s", s[1], yamlTypeKeys[s[2]])
	})
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return msg
	}
	keys := map[string]string{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				keys[fmt.Sprint(k.Line)] = p
				if _, seen := keys[fmt.Sprint(v.Line)]; !seen {
					keys[fmt.Sprint(v.Line)] = p
				}
				walk(v, p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				if _, seen := keys[fmt.Sprint(c.Line)]; !seen {
					keys[fmt.Sprint(c.Line)] = p
				}
				walk(c, p)
			}
		}
	}
	walk(&root, "")
	return errLineRE.ReplaceAllStringFunc(msg, func(m string) string {
		line := errLineRE.FindStringSubmatch(m)[1]
		if k, ok := keys[line]; ok {
			return fmt.Sprintf("line %s (%s): ", line, k)
		}
		return m
	})
}

func prefixErrors(name string, err error) error {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = fmt.Errorf("%s: %w", name, e)
	}
	return errors.Join(out...)
}

func (c *Config) applyDefaults() {
	if c.RemovalPolicy == "" {
		c.RemovalPolicy = "retain"
	}
	if c.LogRetentionDays == 0 {
		c.LogRetentionDays = defaultLogRetentionDays
	}
	t := &c.APITokens
	if t.AllowUserManagedTokens == nil {
		t.AllowUserManagedTokens = ptr(true)
	}
	if t.TokenCacheSeconds == nil {
		t.TokenCacheSeconds = ptr(defaultTokenCacheSeconds)
	}
	if t.CreateCloudWatchRole == nil {
		t.CreateCloudWatchRole = ptr(false)
	}
	if t.AuditRetentionDays == nil {
		t.AuditRetentionDays = ptr(defaultAuditRetentionDays)
	}
	if t.LastUsedResolutionSeconds == nil {
		t.LastUsedResolutionSeconds = ptr(defaultLastUsedResolution)
	}
	if t.TokenFormat == "" {
		t.TokenFormat = TokenFormatHex
	}
	if t.TokenPrefix == "" && t.TokenFormat == TokenFormatPrefixed {
		t.TokenPrefix = defaultTokenPrefix
	}
	if t.Throttling.RateLimit == 0 {
		t.Throttling.RateLimit = defaultThrottleRate
	}
	if t.Throttling.BurstLimit == 0 {
		t.Throttling.BurstLimit = defaultThrottleBurst
	}
	if c.Serve.UpstreamTimeoutSeconds == 0 {
		c.Serve.UpstreamTimeoutSeconds = defaultServeTimeoutSeconds
	}
	if c.Serve.Mode == "" {
		c.Serve.Mode = ServeModeLambda
	}
	if c.ServeContainer() {
		c.Serve.Container.applyDefaults()
	}
	n := &c.Network
	if n.InternetFacing == nil {
		n.InternetFacing = ptr(true)
	}
	if len(n.AllowedCidrs) == 0 && *n.InternetFacing {
		n.AllowedCidrs = []string{"0.0.0.0/0"}
	}
	if n.MaxAzs == 0 {
		n.MaxAzs = 2
	}
	if n.IdleTimeoutSeconds == 0 {
		n.IdleTimeoutSeconds = max(defaultMinIdleTimeoutSeconds, c.ServeFunctionTimeoutSeconds()+30)
	}
	if n.ListenerRulePriority == 0 {
		n.ListenerRulePriority = defaultListenerRulePriority
	}
	if n.LoadBalancerDeletionProtection == nil {
		n.LoadBalancerDeletionProtection = ptr(c.RemovalPolicy == "retain")
	}
	c.Console.applyDefaults()
	c.applyLimitsDefaults()
}

func (sc *ServeContainer) applyDefaults() {
	if sc.CPU == 0 {
		sc.CPU = defaultContainerCPU
	}
	if sc.MemoryMiB == 0 {
		sc.MemoryMiB = defaultContainerMemoryMiB
		if r, ok := fargateMemoryMiB[sc.CPU]; ok && sc.MemoryMiB < r[0] {
			sc.MemoryMiB = r[0]
		}
	}
	if sc.DesiredCount == 0 {
		sc.DesiredCount = defaultContainerDesiredCount
		if sc.MinCount > sc.DesiredCount {
			sc.DesiredCount = sc.MinCount
		}
		if sc.MaxCount > 0 && sc.MaxCount < sc.DesiredCount {
			sc.DesiredCount = sc.MaxCount
		}
	}
	if sc.MinCount == 0 {
		sc.MinCount = min(defaultContainerDesiredCount, sc.DesiredCount)
	}
	if sc.MaxCount == 0 {
		sc.MaxCount = max(defaultContainerMaxCount, sc.DesiredCount)
	}
	if sc.TargetCPUPercent == 0 {
		sc.TargetCPUPercent = defaultContainerTargetCPU
	}
	if sc.DrainSeconds == 0 {
		sc.DrainSeconds = defaultContainerDrainSeconds
	}
}

var (
	nameRE      = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,62}$`)
	stageRE     = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	regionRE    = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)
	accountRE   = regexp.MustCompile(`^\d{12}$`)
	roleNameRE  = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	arnRE       = regexp.MustCompile(`^arn:aws[a-z-]*:`)
	logLevelSet = map[string]bool{"": true, "debug": true, "info": true, "warn": true, "error": true}
)

// validate reports every problem, each naming its key.
func (c *Config) validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s %s", key, fmt.Sprintf(format, args...)))
	}
	required := func(key, v string) bool {
		if strings.TrimSpace(v) == "" {
			bad(key, "is required")
			return false
		}
		return true
	}
	if required("deploymentName", c.DeploymentName) && !nameRE.MatchString(c.DeploymentName) {
		bad("deploymentName", "%q must start with a letter and hold only letters, digits and '-' (at most 63)", c.DeploymentName)
	}
	if required("deploymentStage", c.DeploymentStage) && !stageRE.MatchString(c.DeploymentStage) {
		bad("deploymentStage", "%q may hold only letters, digits, '-' and '_'", c.DeploymentStage)
	}
	if required("region", c.Region) && !regionRE.MatchString(c.Region) {
		bad("region", "%q is not an AWS region name such as us-east-1", c.Region)
	}
	if c.AccountNumber != "" && !accountRE.MatchString(c.AccountNumber) {
		bad("accountNumber", "%q must be 12 digits (quote it in YAML)", c.AccountNumber)
	}
	if c.RemovalPolicy != "retain" && c.RemovalPolicy != "destroy" {
		bad("removalPolicy", "%q must be retain or destroy", c.RemovalPolicy)
	}
	if !logLevelSet[c.LogLevel] {
		bad("logLevel", "%q must be debug, info, warn or error", c.LogLevel)
	}
	if _, ok := retentionDays[c.LogRetentionDays]; !ok {
		bad("logRetentionDays", "%d is not a CloudWatch Logs retention (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, ...)", c.LogRetentionDays)
	}

	if c.WafWebACLArn != "" && !strings.Contains(c.WafWebACLArn, ":wafv2:") {
		bad("wafWebAclArn", "%q must be the ARN of a regional WAFv2 web ACL", c.WafWebACLArn)
	}

	a := c.AuthConfig
	if required("authConfig.authority", a.Authority) {
		if u, err := url.Parse(a.Authority); err != nil || u.Scheme != "https" || u.Host == "" {
			bad("authConfig.authority", "%q must be an https URL (the OIDC issuer)", a.Authority)
		}
	}
	if a.JWTUsernameProperty != "" && strings.TrimSpace(a.JWTUsernameProperty) == "" {
		bad("authConfig.jwtUsernameProperty", "is blank; leave it out for the default claims")
	}
	required("authConfig.clientId", a.ClientID)
	required("authConfig.adminGroup", a.AdminGroup)

	if r := c.Roles.APITokensAPIRole; r != "" && !arnRE.MatchString(r) && !roleNameRE.MatchString(r) {
		bad("roles.ApiTokensApiRole", "%q is neither an IAM role name nor a role ARN", r)
	}

	t := c.APITokens
	if t.DefaultTokenDays < 0 {
		bad("apiTokens.defaultTokenDays", "must be at least 1")
	}
	if t.MaxTokenDays < 0 {
		bad("apiTokens.maxTokenDays", "must be at least 1")
	}
	if t.DefaultTokenDays > 0 && t.MaxTokenDays > 0 && t.DefaultTokenDays > t.MaxTokenDays {
		bad("apiTokens.defaultTokenDays", "(%d) exceeds apiTokens.maxTokenDays (%d)", t.DefaultTokenDays, t.MaxTokenDays)
	}
	if *t.TokenCacheSeconds < 0 || *t.TokenCacheSeconds > 3600 {
		bad("apiTokens.tokenCacheSeconds", "must be between 0 and 3600")
	}
	if t.AuthorizerCacheSeconds < 0 || t.AuthorizerCacheSeconds > maxAuthorizerCacheSeconds {
		bad("apiTokens.authorizerCacheSeconds", "must be between 0 and %d", maxAuthorizerCacheSeconds)
	}
	if t.Throttling.RateLimit < 0 {
		bad("apiTokens.throttling.rateLimit", "must be positive")
	}
	if t.Throttling.BurstLimit < 0 {
		bad("apiTokens.throttling.burstLimit", "must be positive")
	}
	if d := *t.AuditRetentionDays; d < 1 || d > maxAuditRetentionDays {
		bad("apiTokens.auditRetentionDays", "(%d) must be between 1 and %d days: audit events expire that long after the change", d, maxAuditRetentionDays)
	}
	if r := *t.LastUsedResolutionSeconds; r < 0 || r > maxLastUsedResolution {
		bad("apiTokens.lastUsedResolutionSeconds", "(%d) must be between 0 (never record lastUsedAt) and %d (a day)", r, maxLastUsedResolution)
	}
	switch t.TokenFormat {
	case TokenFormatHex:
		if t.TokenPrefix != "" {
			bad("apiTokens.tokenPrefix", "applies only to apiTokens.tokenFormat: %s (apiTokens.tokenFormat is %s)", TokenFormatPrefixed, t.TokenFormat)
		}
	case TokenFormatPrefixed:
		if secret.ValidPrefix(t.TokenPrefix) != nil {
			bad("apiTokens.tokenPrefix", "%q must be a lowercase letter followed by 1 to 15 lowercase letters or digits", t.TokenPrefix)
		}
	default:
		bad("apiTokens.tokenFormat", "%q must be %s (the default: 128 hex characters) or %s (<apiTokens.tokenPrefix>_ and a checksummed secret)", t.TokenFormat, TokenFormatHex, TokenFormatPrefixed)
	}

	s := c.Serve
	if required("serve.upstreamUrl", s.UpstreamURL) {
		// The serve function's own rule, which would otherwise stop it at
		// start-up; failing here saves a deployment.
		if err := serve.CheckUpstreamURL(s.UpstreamURL, s.AllowInsecureUpstream); err != nil {
			bad("serve.upstreamUrl", "%v (serve.allowInsecureUpstream: true allows plain http on a trusted network; the key goes in serve.upstreamApiKeySecretArn)", err)
		}
	}
	if s.UpstreamAPIKeySecretARN != "" && !strings.Contains(s.UpstreamAPIKeySecretARN, ":secretsmanager:") {
		bad("serve.upstreamApiKeySecretArn", "%q must be the complete ARN of a Secrets Manager secret", s.UpstreamAPIKeySecretARN)
	}
	if s.UpstreamTimeoutSeconds < 1 || s.UpstreamTimeoutSeconds > maxLambdaTimeoutSeconds-30 {
		bad("serve.upstreamTimeoutSeconds", "must be between 1 and %d", maxLambdaTimeoutSeconds-30)
	}
	if mp, err := c.modelPermissionsJSON(); err != nil {
		bad("serve.modelPermissions", "%v", err)
	} else if len(mp) > maxModelPermissionsJSONLength {
		bad("serve.modelPermissions", "is %d bytes as JSON; Lambda environments are limited to 4 KB (at most %d here)", len(mp), maxModelPermissionsJSONLength)
	}

	if sv := s.Vpc; !sv.Enabled {
		if sv.VpcID != "" || len(sv.SubnetIDs) > 0 || len(sv.SecurityGroupIDs) > 0 {
			bad("serve.vpc.enabled", "must be true when serve.vpc.vpcId, subnetIds or securityGroupIds are set")
		}
	} else if c.ServeInStackVpc() {
		if !c.StackCreatesVpc() {
			bad("serve.vpc.subnetIds", "is required, with serve.vpc.securityGroupIds, when this stack does not create the VPC (network.vpcId or network.existingListener is set)")
		}
	} else {
		if len(sv.SubnetIDs) == 0 || len(sv.SubnetIDs) > maxLambdaSubnets {
			bad("serve.vpc.subnetIds", "must list 1 to %d subnets (private ones, ideally in two or more zones)", maxLambdaSubnets)
		}
		if c.ServeContainer() {
			// The service also gets a group of its own, which admits the ALB.
			if len(sv.SecurityGroupIDs) > maxServiceSecurityGroups-1 {
				bad("serve.vpc.securityGroupIds", "may list at most %d security groups with serve.mode: container (the service adds one of its own)", maxServiceSecurityGroups-1)
			}
		} else if len(sv.SecurityGroupIDs) == 0 || len(sv.SecurityGroupIDs) > maxLambdaSecurityGroups {
			bad("serve.vpc.securityGroupIds", "must list 1 to %d security groups that allow the serve function's outbound traffic", maxLambdaSecurityGroups)
		}
		if c.ServeVpcID() == "" {
			bad("serve.vpc.vpcId", "is required with serve.vpc.subnetIds (the VPC those subnets are in) unless network.vpcId is that VPC")
		} else if !strings.HasPrefix(c.ServeVpcID(), "vpc-") {
			bad("serve.vpc.vpcId", "%q is not a VPC id (vpc-...)", c.ServeVpcID())
		}
		for i, id := range sv.SubnetIDs {
			if !strings.HasPrefix(id, "subnet-") {
				bad(fmt.Sprintf("serve.vpc.subnetIds[%d]", i), "%q is not a subnet id (subnet-...)", id)
			}
		}
		for i, id := range sv.SecurityGroupIDs {
			if !strings.HasPrefix(id, "sg-") {
				bad(fmt.Sprintf("serve.vpc.securityGroupIds[%d]", i), "%q is not a security group id (sg-...)", id)
			}
		}
	}
	errs = append(errs, c.validateServeMode()...)
	if d := s.ModelPermissionsDefault; d != "" && d != config.ModelsOpen && d != config.ModelsDeny {
		bad("serve.modelPermissionsDefault", "%q must be %s (unlisted models are open to every caller) or %s (admins only)", d, config.ModelsOpen, config.ModelsDeny)
	}

	for _, name := range slices.Sorted(maps.Keys(c.Functions)) {
		if !slices.Contains(functionNames, name) {
			bad("functions."+name, "is not a function; the functions are %s", strings.Join(functionNames, ", "))
			continue
		}
		if rc := c.Functions[name].ReservedConcurrency; rc != nil && *rc < 1 {
			bad("functions."+name+".reservedConcurrency", "must be at least 1 (0 would stop the function; leave it out for unreserved)")
		}
	}

	n := c.Network
	if n.CertificateARN != "" && !strings.Contains(n.CertificateARN, ":acm:") {
		bad("network.certificateArn", "%q must be an ACM certificate ARN", n.CertificateARN)
	}
	for i, cidr := range n.AllowedCidrs {
		if !cidrRE.MatchString(cidr) {
			bad(fmt.Sprintf("network.allowedCidrs[%d]", i), "%q is not an IPv4 CIDR", cidr)
		}
	}
	if n.IdleTimeoutSeconds < 1 || n.IdleTimeoutSeconds > 4000 {
		bad("network.idleTimeoutSeconds", "must be between 1 and 4000")
	}
	if n.ListenerRulePriority < 1 || n.ListenerRulePriority > 50000 {
		bad("network.listenerRulePriority", "must be between 1 and 50000")
	}
	if n.MaxAzs < 2 {
		bad("network.maxAzs", "must be at least 2 (an ALB needs two Availability Zones)")
	}
	el := n.ExistingListener
	if el.ARN != "" {
		if !strings.Contains(el.ARN, ":elasticloadbalancing:") || !strings.Contains(el.ARN, ":listener/app/") {
			bad("network.existingListener.arn", "%q must be an ALB listener ARN", el.ARN)
		}
		required("network.existingListener.securityGroupId", el.SecurityGroupID)
		if n.VpcID != "" || n.CertificateARN != "" {
			bad("network.existingListener", "cannot be combined with network.vpcId or network.certificateArn: the existing listener already has its VPC and certificate")
		}
	} else if el.SecurityGroupID != "" || el.DNSName != "" {
		bad("network.existingListener.arn", "is required when other existingListener keys are set")
	}
	if n.VpcID == "" && (len(n.SubnetIDs) > 0 || len(n.AvailabilityZones) > 0) {
		bad("network.vpcId", "is required when network.subnetIds or network.availabilityZones is set")
	}
	if len(n.SubnetIDs) != len(n.AvailabilityZones) {
		bad("network.availabilityZones", "must list one zone per entry of network.subnetIds (%d given for %d subnets)", len(n.AvailabilityZones), len(n.SubnetIDs))
	}
	if len(n.SubnetIDs) == 1 {
		bad("network.subnetIds", "must list at least two subnets in different zones")
	}
	if n.VpcID != "" && len(n.SubnetIDs) == 0 && c.AccountNumber == "" {
		bad("accountNumber", "is required when network.vpcId is given without network.subnetIds (the VPC is looked up in that account)")
	}
	errs = append(errs, c.Console.validate()...)
	errs = append(errs, c.validateLimits()...)
	return errors.Join(errs...)
}

// validateServeMode checks serve.mode and serve.container.
func (c *Config) validateServeMode() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s %s", key, fmt.Sprintf(format, args...)))
	}
	s := c.Serve
	switch s.Mode {
	case ServeModeLambda:
		if s.Container != (ServeContainer{}) {
			bad("serve.container", "applies only to serve.mode: %s (serve.mode is %s)", ServeModeContainer, s.Mode)
		}
		return errs
	case ServeModeContainer:
	default:
		bad("serve.mode", "%q must be %s (the default: the ALB invokes a Lambda function) or %s (a Fargate service behind the ALB)", s.Mode, ServeModeLambda, ServeModeContainer)
		return errs
	}
	sc := s.Container
	if r, ok := fargateMemoryMiB[sc.CPU]; !ok {
		bad("serve.container.cpu", "%d must be a Fargate CPU size: 256, 512, 1024, 2048 or 4096 (1024 is one vCPU)", sc.CPU)
	} else if !fargateMemoryOK(sc.CPU, sc.MemoryMiB) {
		if sc.CPU == 256 {
			bad("serve.container.memoryMiB", "%d is not offered by Fargate with serve.container.cpu 256: use 512, 1024 or 2048", sc.MemoryMiB)
		} else {
			bad("serve.container.memoryMiB", "%d is not offered by Fargate with serve.container.cpu %d: use %d to %d in steps of %d", sc.MemoryMiB, sc.CPU, r[0], r[1], r[2])
		}
	}
	if sc.MinCount < 1 || sc.MinCount > maxContainerTasks {
		bad("serve.container.minCount", "must be between 1 and %d", maxContainerTasks)
	}
	if sc.MaxCount < 1 || sc.MaxCount > maxContainerTasks {
		bad("serve.container.maxCount", "must be between 1 and %d", maxContainerTasks)
	}
	if sc.DesiredCount < 1 || sc.DesiredCount < sc.MinCount || sc.DesiredCount > sc.MaxCount {
		bad("serve.container.desiredCount", "(%d) must be at least 1 and between serve.container.minCount (%d) and serve.container.maxCount (%d)", sc.DesiredCount, sc.MinCount, sc.MaxCount)
	}
	if sc.TargetCPUPercent < 10 || sc.TargetCPUPercent > 90 {
		bad("serve.container.targetCpuPercent", "must be between 10 and 90")
	}
	if sc.DrainSeconds < 1 || sc.DrainSeconds > maxContainerDrainSeconds {
		bad("serve.container.drainSeconds", "must be between 1 and %d (the ALB's deregistration delay)", maxContainerDrainSeconds)
	}
	if fs, ok := c.Functions[routes.FnServe]; ok && fs.ReservedConcurrency != nil {
		bad("functions.serve.reservedConcurrency", "applies only to serve.mode: %s; with %s, serve.container.maxCount caps the service", ServeModeLambda, ServeModeContainer)
	}
	// The service runs in private subnets: this stack's isolated ones, or
	// the ones serve.vpc names.
	if !c.StackCreatesVpc() && !s.Vpc.Enabled {
		bad("serve.vpc.subnetIds", "is required with serve.mode: %s when this stack does not create the VPC (network.vpcId or network.existingListener is set): "+
			"set serve.vpc.enabled: true, serve.vpc.subnetIds (private subnets in the ALB's VPC) and serve.vpc.vpcId (unless network.vpcId is that VPC)", ServeModeContainer)
	}
	return errs
}

// InsecureUpstream is true when serve.allowInsecureUpstream let a plain-http
// upstream through.
func (c *Config) InsecureUpstream() bool {
	u, err := url.Parse(c.Serve.UpstreamURL)
	return err == nil && serve.InsecureUpstream(u)
}

var cidrRE = regexp.MustCompile(`^(\d{1,3}\.){3}\d{1,3}/\d{1,2}$`)

// ServeFunctionTimeoutSeconds leaves the serve function time to answer after
// its upstream gives up.
func (c *Config) ServeFunctionTimeoutSeconds() int {
	return min(c.Serve.UpstreamTimeoutSeconds+15, maxLambdaTimeoutSeconds)
}

// modelPermissionsJSON is MODEL_PERMISSIONS: the map as a JSON object
// (encoding/json sorts keys, so the template is stable), or "" when unset.
func (c *Config) modelPermissionsJSON() (string, error) {
	if c.Serve.ModelPermissions == nil {
		return "", nil
	}
	for model, groups := range c.Serve.ModelPermissions {
		if groups == nil {
			c.Serve.ModelPermissions[model] = []string{}
		}
	}
	b, err := json.Marshal(c.Serve.ModelPermissions)
	if err != nil {
		return "", err
	}
	// The serve function's own parser and rules (ids unique ignoring case
	// and spaces, no empty ids or groups), which would otherwise stop it
	// at its first start.
	perms, err := serve.ParseModelPermissions(string(b))
	if err == nil {
		err = serve.CheckModelPermissions(perms)
	}
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func ptr[T any](v T) *T { return &v }
