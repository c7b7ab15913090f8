// Package wire builds the runtime parts every Lambda main and the local
// stack share from configuration: the logger, the DynamoDB store, the
// usage store and the decision core. What only the token functions need
// (the token service and its API Gateway adapter) is built in pkg/apigw,
// so that the authorizer and serve binaries do not link it.
package wire

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/oidc"
	"github.com/llmgw/apitokens/pkg/store/dynamostore"
	"github.com/llmgw/apitokens/pkg/usage/dynamousage"
)

// Logger returns the JSON logger every binary uses. LOG_LEVEL may be
// debug, info (default), warn or error.
func Logger(getenv func(string) string) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.TrimSpace(getenv(config.EnvLogLevel))))
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// Fatal logs a startup failure and exits; Lambda reports it as an init error.
func Fatal(logger *slog.Logger, msg string, err error) {
	logger.Error(msg, slog.String("error", err.Error()))
	os.Exit(1)
}

// DynamoDB returns a DynamoDB client from the default AWS configuration
// chain, pointed at DYNAMODB_ENDPOINT when it is set (local stack, tests).
func DynamoDB(ctx context.Context, cfg config.Config) (*dynamodb.Client, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	return dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		if cfg.DynamoDBEndpoint != "" {
			o.BaseEndpoint = aws.String(cfg.DynamoDBEndpoint)
		}
	}), nil
}

// Store returns the DynamoDB token store named by TOKEN_TABLE_NAME, with
// its audit trail in AUDIT_TABLE_NAME kept for AUDIT_RETENTION_DAYS. The
// audit table is not required here: the authorizer and serve only read
// tokens; a store without it refuses every change that records events.
func Store(ctx context.Context, cfg config.Config) (*dynamostore.Store, error) {
	if err := cfg.Require(config.EnvTableName); err != nil {
		return nil, err
	}
	client, err := DynamoDB(ctx, cfg)
	if err != nil {
		return nil, err
	}
	var opts []dynamostore.Option
	if cfg.AuditTableName != "" {
		opts = append(opts, dynamostore.WithAudit(cfg.AuditTableName, cfg.AuditRetention))
	}
	return dynamostore.New(client, cfg.TableName, opts...), nil
}

// Usage returns the DynamoDB usage store on USAGE_TABLE_NAME, its day items
// kept for USAGE_RETENTION_DAYS, with the same client setup as Store. It
// returns nil (and no error) when USAGE_TABLE_NAME is unset: no metering
// at all. Check for nil before putting the result in a usage.Store, or
// the interface holds a nil pointer and is not nil.
func Usage(ctx context.Context, cfg config.Config) (*dynamousage.Store, error) {
	if cfg.UsageTableName == "" {
		return nil, nil
	}
	client, err := DynamoDB(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return dynamousage.New(client, cfg.UsageTableName, cfg.UsageRetention), nil
}

// Authenticator builds the decision core: API tokens from the DynamoDB
// store, JWTs from the OIDC issuer at AUTHORITY (refused if AUTHORITY is
// unset). The issuer is contacted lazily, so a cold start with the issuer
// down still starts and then fails closed per request.
func Authenticator(ctx context.Context, cfg config.Config, reads Reads, logger *slog.Logger) (auth.Authenticator, error) {
	if err := cfg.Require(config.EnvAdminGroup); err != nil {
		return nil, err
	}
	st, err := Store(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return Core(ctx, cfg, st, reads, logger)
}

// Reads says whether a path may reuse API-token decisions.
type Reads int

const (
	// CachedReads reuses API-token decisions for TOKEN_CACHE_SECONDS: the
	// serve path, where every model call is authorized and the TTL is the
	// documented revocation delay.
	CachedReads Reads = iota
	// FreshReads decides every API-token call with a strongly consistent
	// read: the management API (the authorizer), where a revoked token
	// must not act again at all.
	FreshReads
)

// Core builds the decision core over any token reader (the local stack and
// tests pass their own store). It accepts the API tokens cfg.TokenFormat
// names (TOKEN_FORMAT).
func Core(ctx context.Context, cfg config.Config, tokens auth.TokenReader, reads Reads, logger *slog.Logger) (*auth.Core, error) {
	var jwtv auth.JWTVerifier
	if cfg.Authority != "" {
		if err := cfg.Require(config.EnvClientID); err != nil {
			return nil, err
		}
		v, err := oidc.New(ctx, oidc.Config{
			Issuer:        cfg.Authority,
			Audience:      cfg.ClientID,
			GroupsClaim:   cfg.JWTGroupsProperty,
			UsernameClaim: cfg.JWTUsernameProperty,
			Logger:        logger,
		})
		if err != nil {
			return nil, fmt.Errorf("OIDC verifier for %s: %w", config.EnvAuthority, err)
		}
		jwtv = v
	}
	opts := auth.Options{
		Tokens:      tokens,
		JWT:         jwtv,
		Groups:      cfg.Groups,
		CacheTTL:    cfg.TokenCacheTTL,
		FreshTokens: reads == FreshReads,
		Logger:      logger,
		TokenFormat: cfg.TokenFormat,
	}
	// The authorizer and the serve path record when tokens are used; the
	// token functions' FreshCore does not (the authorizer has, for the
	// same call).
	if w, ok := tokens.(auth.LastUsedWriter); ok {
		opts.LastUsed, opts.LastUsedResolution = w, cfg.LastUsedResolution
	}
	return auth.NewCore(opts), nil
}

var _ auth.JWTVerifier = (*oidc.Verifier)(nil)

// FreshCore is the decision core the token functions re-decide API-token
// calls with: every decision one strongly consistent read, no JWTs (those
// are taken from the authorizer context), the API tokens cfg.TokenFormat
// names.
func FreshCore(cfg config.Config, tokens auth.TokenReader, logger *slog.Logger) *auth.Core {
	return auth.NewCore(auth.Options{Tokens: tokens, Groups: cfg.Groups, FreshTokens: true, Logger: logger, TokenFormat: cfg.TokenFormat})
}

// Start is the common start of the authorizer and serve mains: the
// logger, the configuration and the decision core with the given reads,
// exiting with a logged init error (naming the step) if any fails.
func Start(ctx context.Context, name string, reads Reads) (*slog.Logger, config.Config, auth.Authenticator) {
	logger := Logger(os.Getenv)
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		Fatal(logger, name+": startup failed: configuration", err)
	}
	authn, err := Authenticator(ctx, cfg, reads, logger)
	if err != nil {
		Fatal(logger, name+": startup failed: decision core", err)
	}
	return logger, cfg, authn
}
