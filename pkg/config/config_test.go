package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/config"
)

func env(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

func TestDefaults(t *testing.T) {
	c, err := config.Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.DefaultTokenDays != 90 || c.MaxTokenDays != 365 || !c.AllowUserManaged || c.TokenCacheTTL != 10*time.Second ||
		c.JWTGroupsProperty != "cognito:groups" || c.ServeTimeout != 120*time.Second {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestValues(t *testing.T) {
	c, err := config.Load(env(map[string]string{
		config.EnvAuthority: " https://issuer.example.com/ ", config.EnvTokenCacheSeconds: "0",
		config.EnvAllowUserManaged: "false", config.EnvDefaultTokenDays: "7", config.EnvMaxTokenDays: "30",
		config.EnvAdminGroup: "admins",
	}))
	if err != nil {
		t.Fatal(err)
	}
	// AUTHORITY must match "iss" exactly, so only surrounding space goes.
	if c.Authority != "https://issuer.example.com/" {
		t.Errorf("Authority = %q", c.Authority)
	}
	if c.TokenCacheTTL != 0 || c.AllowUserManaged || c.DefaultTokenDays != 7 || c.MaxTokenDays != 30 || c.Groups.Admin != "admins" {
		t.Errorf("config = %+v", c)
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{config.EnvDefaultTokenDays, "ninety"},
		{config.EnvDefaultTokenDays, "0"},
		{config.EnvMaxTokenDays, "-1"},
		{config.EnvTokenCacheSeconds, "-5"},
		{config.EnvTokenCacheSeconds, "1.5"},
		{config.EnvAllowUserManaged, "maybe"},
		{config.EnvServeTimeoutSeconds, "0"},
		// Bounded, so that no expiry computation can overflow.
		{config.EnvMaxTokenDays, "3651"},
		{config.EnvMaxTokenDays, "99999999999"},
		{config.EnvModelPermsDefault, "allow"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			_, err := config.Load(env(map[string]string{tc.name: tc.value}))
			if err == nil || !strings.Contains(err.Error(), tc.name) {
				t.Fatalf("err = %v, want one naming %s", err, tc.name)
			}
		})
	}
	_, err := config.Load(env(map[string]string{config.EnvDefaultTokenDays: "400"}))
	if err == nil || !strings.Contains(err.Error(), config.EnvMaxTokenDays) {
		t.Fatalf("default beyond max: err = %v", err)
	}
}

func TestModelPermissionsDefaultAndUsernameClaim(t *testing.T) {
	c, err := config.Load(env(nil))
	if err != nil || c.ModelPermissionsDefault != config.ModelsOpen || c.JWTUsernameProperty != "" {
		t.Fatalf("defaults: %q %q %v", c.ModelPermissionsDefault, c.JWTUsernameProperty, err)
	}
	c, err = config.Load(env(map[string]string{config.EnvModelPermsDefault: " Deny ", config.EnvJWTUsernameProperty: " oid ", config.EnvMaxTokenDays: "3650"}))
	if err != nil || c.ModelPermissionsDefault != config.ModelsDeny || c.JWTUsernameProperty != "oid" || c.MaxTokenDays != 3650 {
		t.Fatalf("values: %+v %v", c, err)
	}
}

func TestRequire(t *testing.T) {
	c, _ := config.Load(env(nil))
	if err := c.Require(config.EnvTableName); err == nil || !strings.Contains(err.Error(), config.EnvTableName) {
		t.Fatalf("err = %v", err)
	}
	c.TableName = "t"
	if err := c.Require(config.EnvTableName); err != nil {
		t.Fatal(err)
	}
}

func TestServeMode(t *testing.T) {
	c, err := config.Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.ServeMode != config.ServeModeLambda || c.Port != 8080 || c.ServeDrain != 30*time.Second {
		t.Fatalf("defaults: mode %q, port %d, drain %v", c.ServeMode, c.Port, c.ServeDrain)
	}
	c, err = config.Load(env(map[string]string{config.EnvServeMode: " Container ", config.EnvPort: "9000", config.EnvServeDrainSeconds: "0"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.ServeMode != config.ServeModeContainer || c.Port != 9000 || c.ServeDrain != 0 {
		t.Fatalf("mode %q, port %d, drain %v", c.ServeMode, c.Port, c.ServeDrain)
	}
	for k, v := range map[string]string{config.EnvServeMode: "fargate", config.EnvPort: "70000", config.EnvServeDrainSeconds: "-1"} {
		if _, err := config.Load(env(map[string]string{k: v})); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: err = %v, want one naming %s", k, v, err, k)
		}
	}
}

func TestLastUsedResolution(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"", 300 * time.Second, true}, {"0", 0, true}, {"60", time.Minute, true}, {"86400", 24 * time.Hour, true},
		{"86401", 0, false}, {"-1", 0, false}, {"5m", 0, false},
	} {
		c, err := config.Load(func(k string) string {
			if k == config.EnvLastUsedResolution {
				return tc.v
			}
			return ""
		})
		if (err == nil) != tc.ok || tc.ok && c.LastUsedResolution != tc.want {
			t.Errorf("%s=%q: %v, %v; want %v, ok %v", config.EnvLastUsedResolution, tc.v, c.LastUsedResolution, err, tc.want, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), config.EnvLastUsedResolution) {
			t.Errorf("error does not name the variable: %v", err)
		}
	}
}

func TestAudit(t *testing.T) {
	c, err := config.Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.AuditTableName != "" || c.AuditRetention != 365*24*time.Hour {
		t.Errorf("audit defaults = %q, %v", c.AuditTableName, c.AuditRetention)
	}
	if err := c.Require(config.EnvAuditTableName); err == nil || !strings.Contains(err.Error(), config.EnvAuditTableName) {
		t.Errorf("Require(%s) without it = %v", config.EnvAuditTableName, err)
	}
	c, err = config.Load(env(map[string]string{config.EnvAuditTableName: " lisa-LISAApiTokenAuditTable ", config.EnvAuditRetentionDays: "30"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.AuditTableName != "lisa-LISAApiTokenAuditTable" || c.AuditRetention != 30*24*time.Hour {
		t.Errorf("audit = %q, %v", c.AuditTableName, c.AuditRetention)
	}
	for _, v := range []string{"0", "-1", "3651", "1.5", "year"} {
		_, err := config.Load(env(map[string]string{config.EnvAuditRetentionDays: v}))
		if err == nil || !strings.Contains(err.Error(), config.EnvAuditRetentionDays) {
			t.Errorf("%s=%s: err = %v, want one naming the variable", config.EnvAuditRetentionDays, v, err)
		}
	}
	if _, err := config.Load(env(map[string]string{config.EnvAuditRetentionDays: "3650"})); err != nil {
		t.Errorf("%s=3650: %v", config.EnvAuditRetentionDays, err)
	}
}
