package apigw

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"

	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/routes"
	"github.com/llmgw/apitokens/pkg/tokensvc"
	"github.com/llmgw/apitokens/pkg/usage"
	"github.com/llmgw/apitokens/pkg/wire"
)

// Function builds the Lambda handler of the token route name (a routes.Fn*
// name) from the environment, exiting with a logged init error if that
// fails. It is all a token function's main does besides lambda.Start.
func Function(name string) func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	logger := wire.Logger(os.Getenv).With(slog.String("function", name))
	svc, fresh, err := build(context.Background(), os.Getenv, logger, name)
	if err != nil {
		wire.Fatal(logger, name+": startup failed", err)
	}
	h, ok := Handlers(svc)[name]
	if !ok {
		wire.Fatal(logger, name+": startup failed", errUnknownRoute(name))
	}
	return WithCORS(os.Getenv(config.EnvConsoleOrigin), Adapt(h, fresh, logger))
}

type errUnknownRoute string

func (e errUnknownRoute) Error() string { return "no token route named " + string(e) }

// usesAudit names the token functions that write or read the audit
// trail. They refuse to start without AUDIT_TABLE_NAME: otherwise every
// change would fail (a change is never made without its audit record) with
// nothing to say why until someone reads the logs.
var usesAudit = map[string]bool{
	routes.FnCreate: true, routes.FnDelete: true, routes.FnSettings: true,
	routes.FnUpdate: true, routes.FnRotate: true, routes.FnEvents: true,
}

// usesUsage names the token functions that read the usage table. They
// refuse to start without USAGE_TABLE_NAME: every call would fail.
var usesUsage = map[string]bool{routes.FnUsage: true}

// newUsageStore opens the usage table of cfg (cfg.UsageTableName).
func newUsageStore(ctx context.Context, cfg config.Config) (usage.Store, error) {
	us, err := wire.Usage(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if us == nil { // no table named: callers require one first
		return nil, errors.New(config.EnvUsageTableName + " must be set")
	}
	return us, nil
}

func build(ctx context.Context, getenv func(string) string, logger *slog.Logger, name string) (*tokensvc.Service, auth.Authenticator, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return nil, nil, err
	}
	if err := cfg.Require(config.EnvAdminGroup); err != nil {
		return nil, nil, err
	}
	if usesAudit[name] {
		if err := cfg.Require(config.EnvAuditTableName); err != nil {
			return nil, nil, err
		}
	}
	opts := []tokensvc.Option{tokensvc.WithLogger(logger)}
	if usesUsage[name] {
		if cfg.UsageTableName == "" {
			return nil, nil, fmt.Errorf("%s is required: the usage function reads the usage table", config.EnvUsageTableName)
		}
		us, err := newUsageStore(ctx, cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("usage store (%s=%s): %w", config.EnvUsageTableName, cfg.UsageTableName, err)
		}
		opts = append(opts, tokensvc.WithUsage(us))
	}
	st, err := wire.Store(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return tokensvc.New(st, ServiceConfig(cfg), opts...), wire.FreshCore(cfg, st, logger), nil
}

// ServiceConfig extracts the token service rules from cfg.
func ServiceConfig(cfg config.Config) tokensvc.Config {
	return tokensvc.Config{
		Groups:           cfg.Groups,
		DefaultTokenDays: cfg.DefaultTokenDays,
		MaxTokenDays:     cfg.MaxTokenDays,
		AllowUserManaged: cfg.AllowUserManaged,
		SettingsTTL:      cfg.TokenCacheTTL,
		TokenFormat:      cfg.TokenFormat,
		Limits:           cfg.Limits,
	}
}
