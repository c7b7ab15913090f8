package main

import (
	"strings"
	"testing"

	"github.com/llmgw/apitokens/pkg/config"
)

func TestLimitsDefaults(t *testing.T) {
	cfg, err := ParseConfig(ConfigFileName, []byte(minimalYAML))
	if err != nil {
		t.Fatal(err)
	}
	if *cfg.Limits.FailOpen || !*cfg.Usage.Tracking || *cfg.Usage.RetentionDays != 400 {
		t.Errorf("defaults: limits.failOpen %v, usage.tracking %v, usage.retentionDays %d; want false, true, 400",
			*cfg.Limits.FailOpen, *cfg.Usage.Tracking, *cfg.Usage.RetentionDays)
	}
	if l, errs := cfg.limitsJSON(); len(errs) > 0 || l != (limitsEnv{}) {
		t.Errorf("no limits configured: %+v %v, want nothing", l, errs)
	}
	// Empty objects set nothing: the variables are left out.
	cfg, err = ParseConfig(ConfigFileName, []byte(minimalYAML+"limits:\n  defaultTokenLimits: {}\n  groupTokenLimits: {}\n  global: {}\n  modelPrices: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := cfg.limitsJSON(); l != (limitsEnv{}) {
		t.Errorf("empty limits objects give %+v, want nothing", l)
	}
	for _, c := range []struct{ keys, want string }{
		{"usage:\n  retentionDays: 1\n", "1"},
		{"usage:\n  retentionDays: 3650\n", "3650"},
	} {
		cfg, err := ParseConfig(ConfigFileName, []byte(minimalYAML+c.keys))
		if err != nil {
			t.Errorf("%q: %v", c.keys, err)
			continue
		}
		if got := serveLimitsEnvironment(cfg, "t")[config.EnvUsageRetentionDays]; got != c.want {
			t.Errorf("%q: %s = %q, want %q", c.keys, config.EnvUsageRetentionDays, got, c.want)
		}
	}
}

// TestLimitsErrorsNameTheKey: a value the functions would refuse fails
// synth, naming the key (and, from pkg/limits, the field).
func TestLimitsErrorsNameTheKey(t *testing.T) {
	for _, c := range []struct{ name, keys, want string }{
		{"unknown limit", "limits:\n  defaultTokenLimits:\n    requestsPerSecond: 5\n", `limits.defaultTokenLimits: not valid: json: unknown field "requestsPerSecond"`},
		{"zero limit", "limits:\n  defaultTokenLimits:\n    requestsPerMinute: 0\n", "limits.defaultTokenLimits.requestsPerMinute"},
		{"fractional count", "limits:\n  defaultTokenLimits:\n    tokensPerDay: 1.5\n", "limits.defaultTokenLimits"},
		{"count as text", "limits:\n  defaultTokenLimits:\n    tokensPerDay: lots\n", "limits.defaultTokenLimits"},
		{"negative budget", "limits:\n  defaultTokenLimits:\n    budgetPerMonth: -1\n", "limits.defaultTokenLimits.budgetPerMonth"},
		{"huge count", "limits:\n  defaultTokenLimits:\n    tokensPerMonth: 1e13\n", "limits.defaultTokenLimits.tokensPerMonth"},
		{"defaults not an object", "limits:\n  defaultTokenLimits: 60\n", "(limits.defaultTokenLimits)"},
		{"group limit out of range", "limits:\n  groupTokenLimits:\n    team-a:\n      requestsPerHour: -3\n", "limits.groupTokenLimits.team-a.requestsPerHour"},
		{"group unknown field", "limits:\n  groupTokenLimits:\n    team-a:\n      rpm: 3\n", "limits.groupTokenLimits.team-a"},
		{"group not an object", "limits:\n  groupTokenLimits:\n    team-a: 100\n", "limits.groupTokenLimits.team-a"},
		{"blank group", "limits:\n  groupTokenLimits:\n    \" \":\n      requestsPerHour: 3\n", "limits.groupTokenLimits: a group name is empty"},
		{"token limit in global", "limits:\n  global:\n    tokensPerDay: 5\n", `limits.global: not valid: json: unknown field "tokensPerDay"`},
		{"global zero", "limits:\n  global:\n    requestsPerDay: 0\n", "limits.global.requestsPerDay"},
		{"negative price", "limits:\n  modelPrices:\n    claude: {input: -1, output: 15}\n", "limits.modelPrices.claude"},
		{"price unknown field", "limits:\n  modelPrices:\n    claude: {prompt: 1}\n", `limits.modelPrices: not valid: json: unknown field "prompt"`},
		{"price as a number", "limits:\n  modelPrices:\n    claude: 3\n", "limits.modelPrices"},
		{"blank model", "limits:\n  modelPrices:\n    \"\": {input: 1, output: 1}\n", "limits.modelPrices: a model id is empty"},
		{"infinite price", "limits:\n  modelPrices:\n    claude: {input: .inf, output: 1}\n", "limits.modelPrices"},
		{"fail open not a boolean", "limits:\n  failOpen: sometimes\n", "(limits.failOpen)"},
		{"unknown limits key", "limits:\n  perToken: {}\n", `unknown key "perToken" in limits`},
		{"tracking not a boolean", "usage:\n  tracking: maybe\n", "(usage.tracking)"},
		{"retention 0", "usage:\n  retentionDays: 0\n", "usage.retentionDays"},
		{"retention beyond ten years", "usage:\n  retentionDays: 3651\n", "usage.retentionDays"},
		{"unknown usage key", "usage:\n  retention: 30\n", `unknown key "retention" in usage`},
		{"too large for Lambda", "limits:\n  modelPrices:\n" + manyPrices(), "limits (with serve.modelPermissions) is"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig(ConfigFileName, []byte(minimalYAML+c.keys))
			if err == nil {
				t.Fatalf("want an error naming %q, got none", c.want)
			}
			if msg := err.Error(); !strings.Contains(msg, c.want) || !strings.HasPrefix(msg, ConfigFileName+": ") {
				t.Errorf("error %q does not name %q after the file name", msg, c.want)
			}
		})
	}
	// Every problem at once.
	_, err := ParseConfig(ConfigFileName, []byte(minimalYAML+"limits:\n  defaultTokenLimits:\n    requestsPerMinute: 0\n  global:\n    requestsPerDay: 0\nusage:\n  retentionDays: 0\n"))
	for _, k := range []string{"limits.defaultTokenLimits.requestsPerMinute", "limits.global.requestsPerDay", "usage.retentionDays"} {
		if err == nil || !strings.Contains(err.Error(), ConfigFileName+": "+k) {
			t.Errorf("want %q reported, got %v", k, err)
		}
	}
}

// manyPrices is more model prices than fit in a Lambda environment.
func manyPrices() string {
	var b strings.Builder
	for i := range 120 {
		b.WriteString("    model-with-a-long-name-" + itoa(i) + ": {input: 1.25, output: 10}\n")
	}
	return b.String()
}
