// Package config reads the environment every binary shares. The variable
// names are spelled here once; the Lambda functions, the local stack, the
// tests and the CDK app (which sets them) all use these constants.
package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/limits"
	"github.com/llmgw/apitokens/pkg/secret"
)

// Environment variable names.
const (
	EnvTableName           = "TOKEN_TABLE_NAME"
	EnvAuditTableName      = "AUDIT_TABLE_NAME"
	EnvAuditRetentionDays  = "AUDIT_RETENTION_DAYS"
	EnvLastUsedResolution  = "LAST_USED_RESOLUTION_SECONDS"
	EnvAuthority           = "AUTHORITY"
	EnvClientID            = "CLIENT_ID"
	EnvAdminGroup          = "ADMIN_GROUP"
	EnvUserGroup           = "USER_GROUP"
	EnvAPIGroup            = "API_GROUP"
	EnvJWTGroupsProperty   = "JWT_GROUPS_PROPERTY"
	EnvDefaultTokenDays    = "DEFAULT_TOKEN_DAYS"
	EnvMaxTokenDays        = "MAX_TOKEN_DAYS"
	EnvAllowUserManaged    = "ALLOW_USER_MANAGED_TOKENS"
	EnvTokenCacheSeconds   = "TOKEN_CACHE_SECONDS"
	EnvServeUpstreamURL    = "SERVE_UPSTREAM_URL"
	EnvServeUpstreamKey    = "SERVE_UPSTREAM_API_KEY"
	EnvServeUpstreamKeyARN = "SERVE_UPSTREAM_API_KEY_SECRET_ARN"
	EnvServeTimeoutSeconds = "SERVE_UPSTREAM_TIMEOUT_SECONDS"
	EnvServeAllowInsecure  = "SERVE_ALLOW_INSECURE_UPSTREAM"
	EnvModelPermissions    = "MODEL_PERMISSIONS"
	EnvModelPermsDefault   = "MODEL_PERMISSIONS_DEFAULT"
	// EnvServeMode picks how the serve path runs: ServeModeLambda (an ALB
	// Lambda target, answers buffered, 1 MB limits) or ServeModeContainer
	// (an HTTP server that streams answers as they arrive).
	EnvServeMode = "SERVE_MODE"
	// EnvPort is the port the serve container listens on (DefaultPort).
	EnvPort = "PORT"
	// EnvServeDrainSeconds bounds how long the serve container lets
	// in-flight calls finish after SIGTERM (DefaultServeDrain).
	EnvServeDrainSeconds   = "SERVE_DRAIN_SECONDS"
	EnvJWTUsernameProperty = "JWT_USERNAME_PROPERTY"
	// EnvConsoleOrigin is the web console's origin, which the token
	// functions allow to read their answers (CORS); set by the CDK app.
	EnvConsoleOrigin    = "CONSOLE_ORIGIN"
	EnvDynamoDBEndpoint = "DYNAMODB_ENDPOINT"
	EnvLogLevel         = "LOG_LEVEL"
)

// Defaults.
const (
	DefaultTokenDays         = 90
	DefaultMaxTokenDays      = 365
	DefaultTokenCache        = 10 * time.Second
	DefaultJWTGroupsProperty = "cognito:groups"
	DefaultServeTimeout      = 120 * time.Second
	DefaultPort              = 8080
	DefaultServeDrain        = 30 * time.Second
	// DefaultAuditRetentionDays is how long audit events are kept
	// (AUDIT_RETENTION_DAYS); MaxAuditRetentionDays bounds it.
	DefaultAuditRetentionDays = 365
	MaxAuditRetentionDays     = 3650
	// MaxTokenDaysLimit bounds MAX_TOKEN_DAYS (and so DEFAULT_TOKEN_DAYS):
	// ten years is longer than any credential should live, and keeps every
	// expiry computation far from overflow.
	MaxTokenDaysLimit = 3650
	// DefaultLastUsedResolution: a token's last use is recorded at most
	// every five minutes per process, one small write per token in that
	// time whatever the call rate.
	DefaultLastUsedResolution    = 300 * time.Second
	MaxLastUsedResolutionSeconds = 86400
)

// Values of MODEL_PERMISSIONS_DEFAULT: what a model that MODEL_PERMISSIONS
// does not list is open to.
const (
	ModelsOpen = "open" // every authenticated caller (the default)
	ModelsDeny = "deny" // admins only
)

// Values of SERVE_MODE.
const (
	ServeModeLambda    = "lambda"    // ALB Lambda target (the default)
	ServeModeContainer = "container" // HTTP server with streaming
)

// The API token format: TOKEN_FORMAT is TokenFormatHex (the default) or
// TokenFormatPrefixed; TOKEN_PREFIX (DefaultTokenPrefix) starts prefixed
// tokens and must satisfy secret.ValidPrefix, in either format.
const (
	EnvTokenFormat      = "TOKEN_FORMAT"
	EnvTokenPrefix      = "TOKEN_PREFIX"
	TokenFormatHex      = "hex"
	TokenFormatPrefixed = "prefixed"
	DefaultTokenPrefix  = "lisa"
)

// Config is the shared runtime configuration.
type Config struct {
	TableName string
	// AuditTableName is the audit table (AUDIT_TABLE_NAME). Without it the
	// store refuses every change that records audit events.
	AuditTableName string
	// AuditRetention is how long audit events are kept (their TTL):
	// AUDIT_RETENTION_DAYS, 1..3650 days, default 365.
	AuditRetention            time.Duration
	Authority                 string
	ClientID                  string
	Groups                    auth.Groups
	JWTGroupsProperty         string
	DefaultTokenDays          int
	MaxTokenDays              int
	AllowUserManaged          bool
	TokenCacheTTL             time.Duration
	ServeUpstreamURL          string
	ServeUpstreamKey          string
	ServeUpstreamKeySecretARN string
	ServeTimeout              time.Duration
	// ServeAllowInsecureUpstream lets a plain-http upstream that is not
	// loopback through (the upstream key then travels in clear).
	ServeAllowInsecureUpstream bool
	ModelPermissions           string // JSON object: model id -> allowed groups
	ModelPermissionsDefault    string // ModelsOpen or ModelsDeny
	ServeMode                  string // ServeModeLambda or ServeModeContainer
	Port                       int    // the serve container's port
	ServeDrain                 time.Duration
	// JWTUsernameProperty names the claim that names a user; "" means the
	// first present of cognito:username, username, preferred_username, sub.
	JWTUsernameProperty string
	DynamoDBEndpoint    string
	LogLevel            string

	// LastUsedResolution is how often, at most, one process records a
	// token's last use (LAST_USED_RESOLUTION_SECONDS); 0 records nothing.
	LastUsedResolution time.Duration

	// TokenFormat is what new API tokens look like (TokenFormat.Generate)
	// and which tokens authenticate: secret.Hex, or with TOKEN_FORMAT
	// prefixed, TOKEN_PREFIX's prefixed tokens beside hex ones.
	TokenFormat secret.Format

	// Limits are DEFAULT_TOKEN_LIMITS, GROUP_TOKEN_LIMITS and
	// GLOBAL_LIMITS; Prices MODEL_PRICES.
	Limits limits.Policy
	Prices limits.Prices
	// LimitsFailOpen lets serve calls through (logged) when the usage
	// table cannot be reached; by default they are refused (503).
	LimitsFailOpen bool
	// UsageTracking records every serve call's usage per token and day
	// (USAGE_TRACKING, default true).
	UsageTracking  bool
	UsageTableName string
	UsageRetention time.Duration
}

// Load reads the configuration through getenv (os.Getenv in main, a map in
// tests). It reports every unusable value by its variable name.
func Load(getenv func(string) string) (Config, error) {
	c := Config{
		TableName:      strings.TrimSpace(getenv(EnvTableName)),
		AuditTableName: strings.TrimSpace(getenv(EnvAuditTableName)),
		// AUTHORITY is compared with the tokens' "iss" exactly, so it is
		// kept as given: some issuers' identifiers end in "/".
		Authority: strings.TrimSpace(getenv(EnvAuthority)),
		ClientID:  strings.TrimSpace(getenv(EnvClientID)),
		Groups: auth.Groups{
			Admin: strings.TrimSpace(getenv(EnvAdminGroup)),
			User:  strings.TrimSpace(getenv(EnvUserGroup)),
			API:   strings.TrimSpace(getenv(EnvAPIGroup)),
		},
		JWTGroupsProperty:         strings.TrimSpace(getenv(EnvJWTGroupsProperty)),
		JWTUsernameProperty:       strings.TrimSpace(getenv(EnvJWTUsernameProperty)),
		ServeUpstreamURL:          strings.TrimRight(strings.TrimSpace(getenv(EnvServeUpstreamURL)), "/"),
		ServeUpstreamKey:          getenv(EnvServeUpstreamKey),
		ServeUpstreamKeySecretARN: strings.TrimSpace(getenv(EnvServeUpstreamKeyARN)),
		ModelPermissions:          strings.TrimSpace(getenv(EnvModelPermissions)),
		DynamoDBEndpoint:          strings.TrimSpace(getenv(EnvDynamoDBEndpoint)),
		LogLevel:                  strings.TrimSpace(getenv(EnvLogLevel)),
	}
	if c.JWTGroupsProperty == "" {
		c.JWTGroupsProperty = DefaultJWTGroupsProperty
	}
	var err error
	if c.DefaultTokenDays, err = intVar(getenv, EnvDefaultTokenDays, DefaultTokenDays, 1); err != nil {
		return Config{}, err
	}
	if c.MaxTokenDays, err = intVar(getenv, EnvMaxTokenDays, DefaultMaxTokenDays, 1); err != nil {
		return Config{}, err
	}
	if c.MaxTokenDays > MaxTokenDaysLimit {
		return Config{}, fmt.Errorf("%s: %d is more than %d days (ten years)", EnvMaxTokenDays, c.MaxTokenDays, MaxTokenDaysLimit)
	}
	if c.DefaultTokenDays > c.MaxTokenDays {
		return Config{}, fmt.Errorf("%s (%d) exceeds %s (%d)", EnvDefaultTokenDays, c.DefaultTokenDays, EnvMaxTokenDays, c.MaxTokenDays)
	}
	days, err := intVar(getenv, EnvAuditRetentionDays, DefaultAuditRetentionDays, 1)
	if err != nil {
		return Config{}, err
	}
	if days > MaxAuditRetentionDays {
		return Config{}, fmt.Errorf("%s: %d is more than %d days (ten years)", EnvAuditRetentionDays, days, MaxAuditRetentionDays)
	}
	c.AuditRetention = time.Duration(days) * 24 * time.Hour
	secs, err := intVar(getenv, EnvTokenCacheSeconds, int(DefaultTokenCache/time.Second), 0)
	if err != nil {
		return Config{}, err
	}
	c.TokenCacheTTL = time.Duration(secs) * time.Second
	lu, err := intVar(getenv, EnvLastUsedResolution, int(DefaultLastUsedResolution/time.Second), 0)
	if err != nil {
		return Config{}, err
	}
	if lu > MaxLastUsedResolutionSeconds {
		return Config{}, fmt.Errorf("%s must be at most %d (a day), not %d", EnvLastUsedResolution, MaxLastUsedResolutionSeconds, lu)
	}
	c.LastUsedResolution = time.Duration(lu) * time.Second
	ts, err := intVar(getenv, EnvServeTimeoutSeconds, int(DefaultServeTimeout/time.Second), 1)
	if err != nil {
		return Config{}, err
	}
	c.ServeTimeout = time.Duration(ts) * time.Second
	switch v := strings.ToLower(strings.TrimSpace(getenv(EnvModelPermsDefault))); v {
	case "", ModelsOpen:
		c.ModelPermissionsDefault = ModelsOpen
	case ModelsDeny:
		c.ModelPermissionsDefault = ModelsDeny
	default:
		return Config{}, fmt.Errorf("%s: %q must be %q or %q", EnvModelPermsDefault, v, ModelsOpen, ModelsDeny)
	}
	switch v := strings.ToLower(strings.TrimSpace(getenv(EnvServeMode))); v {
	case "", ServeModeLambda:
		c.ServeMode = ServeModeLambda
	case ServeModeContainer:
		c.ServeMode = ServeModeContainer
	default:
		return Config{}, fmt.Errorf("%s: %q must be %q or %q", EnvServeMode, v, ServeModeLambda, ServeModeContainer)
	}
	if c.Port, err = intVar(getenv, EnvPort, DefaultPort, 1); err != nil {
		return Config{}, err
	}
	if c.Port > 65535 {
		return Config{}, fmt.Errorf("%s: %d is not a port (1-65535)", EnvPort, c.Port)
	}
	ds, err := intVar(getenv, EnvServeDrainSeconds, int(DefaultServeDrain/time.Second), 0)
	if err != nil {
		return Config{}, err
	}
	c.ServeDrain = time.Duration(ds) * time.Second
	if c.TokenFormat, err = tokenFormat(getenv); err != nil {
		return Config{}, err
	}
	if v := strings.TrimSpace(getenv(EnvServeAllowInsecure)); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, fmt.Errorf("%s: %q is not a boolean", EnvServeAllowInsecure, v)
		}
		c.ServeAllowInsecureUpstream = b
	}
	c.AllowUserManaged = true
	if v := strings.TrimSpace(getenv(EnvAllowUserManaged)); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, fmt.Errorf("%s: %q is not a boolean", EnvAllowUserManaged, v)
		}
		c.AllowUserManaged = b
	}
	if err := loadLimits(getenv, &c); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Limits, usage and budgets.
const (
	EnvDefaultTokenLimits = "DEFAULT_TOKEN_LIMITS" // JSON limits.Limits
	EnvGroupTokenLimits   = "GROUP_TOKEN_LIMITS"   // JSON: group -> limits.Limits
	EnvGlobalLimits       = "GLOBAL_LIMITS"        // JSON limits.Global
	EnvModelPrices        = "MODEL_PRICES"         // JSON: model -> limits.Price
	EnvLimitsFailOpen     = "LIMITS_FAIL_OPEN"
	EnvUsageTracking      = "USAGE_TRACKING"
	EnvUsageTableName     = "USAGE_TABLE_NAME"
	EnvUsageRetentionDays = "USAGE_RETENTION_DAYS"

	// DefaultUsageRetentionDays keeps usage rows a little over a year, so
	// that this month last year can still be compared.
	DefaultUsageRetentionDays = 400
	MaxUsageRetentionDays     = 3650
)

// loadLimits reads the limits, usage and budget settings into c.
func loadLimits(getenv func(string) string, c *Config) error {
	var err error
	if c.Limits.Default, err = limits.Parse(EnvDefaultTokenLimits, []byte(getenv(EnvDefaultTokenLimits))); err != nil {
		return err
	}
	if c.Limits.Groups, err = limits.ParseGroups(EnvGroupTokenLimits, []byte(getenv(EnvGroupTokenLimits))); err != nil {
		return err
	}
	if c.Limits.Global, err = limits.ParseGlobal(EnvGlobalLimits, []byte(getenv(EnvGlobalLimits))); err != nil {
		return err
	}
	if c.Prices, err = limits.ParsePrices(EnvModelPrices, []byte(getenv(EnvModelPrices))); err != nil {
		return err
	}
	c.UsageTracking = true
	for _, b := range []struct {
		name string
		dst  *bool
	}{{EnvLimitsFailOpen, &c.LimitsFailOpen}, {EnvUsageTracking, &c.UsageTracking}} {
		if v := strings.TrimSpace(getenv(b.name)); v != "" {
			if *b.dst, err = strconv.ParseBool(v); err != nil {
				return fmt.Errorf("%s: %q is not a boolean", b.name, v)
			}
		}
	}
	c.UsageTableName = strings.TrimSpace(getenv(EnvUsageTableName))
	days, err := intVar(getenv, EnvUsageRetentionDays, DefaultUsageRetentionDays, 1)
	if err != nil {
		return err
	}
	if days > MaxUsageRetentionDays {
		return fmt.Errorf("%s: %d is more than %d days (ten years)", EnvUsageRetentionDays, days, MaxUsageRetentionDays)
	}
	c.UsageRetention = time.Duration(days) * 24 * time.Hour
	return nil
}

// Require reports the first of names whose value in c is empty.
func (c Config) Require(names ...string) error {
	vals := map[string]string{
		EnvTableName:        c.TableName,
		EnvAuditTableName:   c.AuditTableName,
		EnvAuthority:        c.Authority,
		EnvClientID:         c.ClientID,
		EnvAdminGroup:       c.Groups.Admin,
		EnvServeUpstreamURL: c.ServeUpstreamURL,
	}
	for _, n := range names {
		if v, ok := vals[n]; ok && v == "" {
			return fmt.Errorf("%s must be set", n)
		}
	}
	return nil
}

// tokenFormat reads TOKEN_FORMAT and TOKEN_PREFIX. The prefix is checked
// even for hex, so that a typo in it is found before it is switched on.
func tokenFormat(getenv func(string) string) (secret.Format, error) {
	prefix := strings.TrimSpace(getenv(EnvTokenPrefix))
	if prefix == "" {
		prefix = DefaultTokenPrefix
	}
	f, err := secret.Prefixed(prefix)
	if err != nil {
		return secret.Format{}, fmt.Errorf("%s: %w", EnvTokenPrefix, err)
	}
	switch v := strings.ToLower(strings.TrimSpace(getenv(EnvTokenFormat))); v {
	case "", TokenFormatHex:
		return secret.Hex, nil
	case TokenFormatPrefixed:
		return f, nil
	default:
		return secret.Format{}, fmt.Errorf("%s: %q must be %q or %q", EnvTokenFormat, v, TokenFormatHex, TokenFormatPrefixed)
	}
}

func intVar(getenv func(string) string, name string, def, min int) (int, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min {
		return 0, fmt.Errorf("%s: %q is not a whole number >= %d", name, v, min)
	}
	return n, nil
}
