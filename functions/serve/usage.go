package main

import (
	"context"
	"fmt"

	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/limits"
	"github.com/llmgw/apitokens/pkg/usage"
	"github.com/llmgw/apitokens/pkg/wire"
)

// openUsage returns the usage store the serve path counts with: the
// DynamoDB usage table USAGE_TABLE_NAME, or nil (nothing metered) without
// one.
func openUsage(ctx context.Context, cfg config.Config) (usage.Store, error) {
	us, err := wire.Usage(ctx, cfg)
	if err != nil || us == nil {
		// A nil *dynamousage.Store must not become a non-nil usage.Store.
		return nil, err
	}
	return us, nil
}

// checkUsage refuses to start with deployment limits (DEFAULT_TOKEN_LIMITS,
// GROUP_TOKEN_LIMITS, GLOBAL_LIMITS) and no usage store to count them:
// every call they apply to would be refused (or, with LIMITS_FAIL_OPEN,
// go unchecked), which is a configuration error better reported at once.
func checkUsage(cfg config.Config, store usage.Store) error {
	if store != nil || !hasLimits(cfg.Limits) {
		return nil
	}
	return fmt.Errorf("%s, %s or %s is set but there is no usage store to count them: set %s",
		config.EnvDefaultTokenLimits, config.EnvGroupTokenLimits, config.EnvGlobalLimits, config.EnvUsageTableName)
}

func hasLimits(p limits.Policy) bool {
	if !p.Default.IsZero() || p.Global != (limits.Global{}) {
		return true
	}
	for _, l := range p.Groups {
		if !l.IsZero() {
			return true
		}
	}
	return false
}
