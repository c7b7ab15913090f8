package main

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/limits"
)

// Limits is the limits section: what a token may use, the gateway's own
// request rates, and what models cost. Each value is kept as YAML decoded
// it and checked by pkg/limits' own parsers (as JSON, the form the
// functions read), so synth accepts exactly what the functions accept.
type Limits struct {
	// DefaultTokenLimits apply to a token that sets none of its own and is
	// in no group of GroupTokenLimits (DEFAULT_TOKEN_LIMITS).
	DefaultTokenLimits map[string]any `yaml:"defaultTokenLimits"`
	// GroupTokenLimits map a group to limits; a token in several groups
	// gets, field by field, the most generous (GROUP_TOKEN_LIMITS).
	GroupTokenLimits map[string]any `yaml:"groupTokenLimits"`
	// Global limits the request rates of every API token together
	// (GLOBAL_LIMITS).
	Global map[string]any `yaml:"global"`
	// ModelPrices map a model id to {input, output} per million tokens,
	// in the unit of budgetPerMonth (MODEL_PRICES).
	ModelPrices map[string]any `yaml:"modelPrices"`
	// FailOpen lets serve calls through (and logs them) when the usage
	// table cannot be reached; by default they are refused with 503.
	FailOpen *bool `yaml:"failOpen"`
}

// Usage is the usage section: what the serve path records per token and
// day in the usage table.
type Usage struct {
	// Tracking records every call's usage, limits or not (USAGE_TRACKING);
	// off, only tokens with limits are counted.
	Tracking *bool `yaml:"tracking"`
	// RetentionDays is how long a day's usage item is kept (its TTL).
	RetentionDays *int `yaml:"retentionDays"`
}

// Defaults and bounds of the limits and usage sections.
const (
	defaultUsageRetentionDays = config.DefaultUsageRetentionDays
	maxUsageRetentionDays     = config.MaxUsageRetentionDays
	// maxLimitsJSONLength bounds the limits, prices and model permissions
	// together as the serve function's environment carries them: Lambda
	// allows 4 KB of environment in total, names and the other settings
	// included.
	maxLimitsJSONLength = 3072
)

// limitsEnv are the JSON values of the limits section, "" for what is not
// set (the variable is then left out and the functions' default applies).
type limitsEnv struct {
	Default, Groups, Global, Prices string
}

func (c *Config) applyLimitsDefaults() {
	if c.Limits.FailOpen == nil {
		c.Limits.FailOpen = ptr(false)
	}
	if c.Usage.Tracking == nil {
		c.Usage.Tracking = ptr(true)
	}
	if c.Usage.RetentionDays == nil {
		c.Usage.RetentionDays = ptr(defaultUsageRetentionDays)
	}
}

// validateLimits checks the limits and usage sections, each error naming
// its key.
func (c *Config) validateLimits() []error {
	var errs []error
	env, lerrs := c.limitsJSON()
	errs = append(errs, lerrs...)
	if d := *c.Usage.RetentionDays; d < 1 || d > maxUsageRetentionDays {
		errs = append(errs, fmt.Errorf("usage.retentionDays (%d) must be between 1 and %d days: a day's usage expires that long after it", d, maxUsageRetentionDays))
	}
	if len(lerrs) == 0 {
		mp := ""
		if !c.ServeContainer() {
			mp, _ = c.modelPermissionsJSON() // its own errors are reported under serve.modelPermissions
		}
		if n := len(env.Default) + len(env.Groups) + len(env.Global) + len(env.Prices) + len(mp); n > maxLimitsJSONLength {
			errs = append(errs, fmt.Errorf("limits (with serve.modelPermissions) is %d bytes as JSON; Lambda environments are limited to 4 KB (at most %d here): "+
				"fewer groups in limits.groupTokenLimits or models in limits.modelPrices", n, maxLimitsJSONLength))
		}
	}
	return errs
}

// limitsJSON is the limits section as the functions' environment carries
// it: each value as JSON, parsed by the functions' own parser (the error
// names the key), then written back compact from what was parsed. An
// absent or empty value is "".
func (c *Config) limitsJSON() (limitsEnv, []error) {
	var out limitsEnv
	l := c.Limits
	var errs []error
	parse := func(key string, v map[string]any, dst *string, f func(at string, raw []byte) (any, bool, error)) {
		if v == nil {
			return
		}
		raw, err := json.Marshal(jsonValue(v))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %v", key, err))
			return
		}
		parsed, empty, err := f(key, raw)
		if err != nil {
			errs = append(errs, err)
			return
		}
		if empty {
			return
		}
		b, err := json.Marshal(parsed)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %v", key, err))
			return
		}
		*dst = string(b)
	}
	parse("limits.defaultTokenLimits", l.DefaultTokenLimits, &out.Default, func(at string, raw []byte) (any, bool, error) {
		v, err := limits.Parse(at, raw)
		return v, v.IsZero(), err
	})
	parse("limits.groupTokenLimits", l.GroupTokenLimits, &out.Groups, func(at string, raw []byte) (any, bool, error) {
		v, err := limits.ParseGroups(at, raw)
		return v, len(v) == 0, err
	})
	parse("limits.global", l.Global, &out.Global, func(at string, raw []byte) (any, bool, error) {
		v, err := limits.ParseGlobal(at, raw)
		return v, v.AsLimits().IsZero(), err
	})
	parse("limits.modelPrices", l.ModelPrices, &out.Prices, func(at string, raw []byte) (any, bool, error) {
		v, err := limits.ParsePrices(at, raw)
		return v, len(v) == 0, err
	})
	if len(errs) > 0 {
		return limitsEnv{}, errs
	}
	return out, nil
}

// jsonValue turns what YAML decoded into what encoding/json can write:
// a mapping whose keys are not all strings decodes as map[any]any, whose
// keys become their YAML text (and then unknown fields to the parsers).
func jsonValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonValue(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = jsonValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(e)
		}
		return out
	}
	return v
}

// limitsEnvironment is DEFAULT_TOKEN_LIMITS and GROUP_TOKEN_LIMITS, what
// every function that resolves a token's effective limits reads (the
// token functions' views and raise check, usage, serve).
func limitsEnvironment(cfg *Config) map[string]string {
	l, _ := cfg.limitsJSON() // validated in ParseConfig
	return nonEmpty(map[string]string{
		config.EnvDefaultTokenLimits: l.Default,
		config.EnvGroupTokenLimits:   l.Groups,
	})
}

// serveLimitsEnvironment is everything the serve path reads about limits
// and usage, in either serve mode; usageTable is the usage table's name.
func serveLimitsEnvironment(cfg *Config, usageTable string) map[string]string {
	l, _ := cfg.limitsJSON() // validated in ParseConfig
	return withEnv(limitsEnvironment(cfg), nonEmpty(map[string]string{
		config.EnvUsageTableName:     usageTable,
		config.EnvUsageRetentionDays: strconv.Itoa(*cfg.Usage.RetentionDays),
		config.EnvUsageTracking:      strconv.FormatBool(*cfg.Usage.Tracking),
		config.EnvLimitsFailOpen:     strconv.FormatBool(*cfg.Limits.FailOpen),
		config.EnvGlobalLimits:       l.Global,
		config.EnvModelPrices:        l.Prices,
	}))
}

// nonEmpty drops the variables whose value is "".
func nonEmpty(env map[string]string) map[string]string {
	for k, v := range env {
		if v == "" {
			delete(env, k)
		}
	}
	return env
}
