package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// minimalYAML holds only the required keys.
const minimalYAML = `
deploymentName: lisa
deploymentStage: prod
region: us-east-1
authConfig:
  authority: https://idp.example.com/realms/lisa
  clientId: lisa-client
  adminGroup: lisa-admins
serve:
  upstreamUrl: https://litellm.example.com
`

func TestExampleConfigIsValid(t *testing.T) {
	path := filepath.Join("..", "config-custom.example.yaml")
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatalf("the shipped example must parse and validate: %v", err)
	}
	if cfg.Network.CertificateARN == "" {
		t.Errorf("the example should show an HTTPS deployment (network.certificateArn set)")
	}
	if len(cfg.Serve.ModelPermissions) == 0 {
		t.Errorf("the example should show serve.modelPermissions")
	}
	if len(cfg.Limits.GroupTokenLimits) == 0 || len(cfg.Limits.ModelPrices) == 0 {
		t.Errorf("the example should show a group limit (limits.groupTokenLimits) and a price (limits.modelPrices)")
	}
}

func TestMissingConfigFileNamesTheFix(t *testing.T) {
	_, err := LoadConfig(filepath.Join(t.TempDir(), ConfigFileName))
	if err == nil || !strings.Contains(err.Error(), "config-custom.example.yaml") {
		t.Fatalf("want an error pointing at the example file, got %v", err)
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := ParseConfig(ConfigFileName, []byte(minimalYAML))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"removalPolicy", cfg.RemovalPolicy, "retain"},
		{"logRetentionDays", cfg.LogRetentionDays, defaultLogRetentionDays},
		{"apiTokens.allowUserManagedTokens", *cfg.APITokens.AllowUserManagedTokens, true},
		{"apiTokens.tokenCacheSeconds", *cfg.APITokens.TokenCacheSeconds, defaultTokenCacheSeconds},
		{"apiTokens.authorizerCacheSeconds", cfg.APITokens.AuthorizerCacheSeconds, 0},
		{"apiTokens.createCloudWatchRole", *cfg.APITokens.CreateCloudWatchRole, false},
		{"apiTokens.auditRetentionDays", *cfg.APITokens.AuditRetentionDays, 365},
		{"apiTokens.lastUsedResolutionSeconds", *cfg.APITokens.LastUsedResolutionSeconds, 300},
		{"apiTokens.tokenFormat", cfg.APITokens.TokenFormat, TokenFormatHex},
		{"apiTokens.tokenPrefix", cfg.APITokens.TokenPrefix, ""},
		{"serve.upstreamTimeoutSeconds", cfg.Serve.UpstreamTimeoutSeconds, defaultServeTimeoutSeconds},
		{"network.internetFacing", *cfg.Network.InternetFacing, true},
		{"network.allowedCidrs", strings.Join(cfg.Network.AllowedCidrs, ","), "0.0.0.0/0"},
		{"network.idleTimeoutSeconds", cfg.Network.IdleTimeoutSeconds, 300},
		{"network.loadBalancerDeletionProtection", *cfg.Network.LoadBalancerDeletionProtection, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s defaults to %v, want %v", c.name, c.got, c.want)
		}
	}
	if got := cfg.ServeFunctionTimeoutSeconds(); got != defaultServeTimeoutSeconds+15 {
		t.Errorf("serve function timeout = %d, want upstream timeout + 15", got)
	}
}

// TestLifecycleSettings: the limits of the lifecycle keys are accepted,
// and a prefixed format without a prefix gets the default one.
func TestLifecycleSettings(t *testing.T) {
	for _, c := range []struct {
		keys              string
		retention, lastUs int
		format, prefix    string
	}{
		{"  auditRetentionDays: 1\n  lastUsedResolutionSeconds: 0\n", 1, 0, TokenFormatHex, ""},
		{"  auditRetentionDays: 3650\n  lastUsedResolutionSeconds: 86400\n", 3650, 86400, TokenFormatHex, ""},
		{"  tokenFormat: prefixed\n", 365, 300, TokenFormatPrefixed, "lisa"},
		{"  tokenFormat: prefixed\n  tokenPrefix: acme2\n", 365, 300, TokenFormatPrefixed, "acme2"},
		{"  tokenFormat: hex\n", 365, 300, TokenFormatHex, ""},
	} {
		cfg, err := ParseConfig(ConfigFileName, []byte(minimalYAML+"apiTokens:\n"+c.keys))
		if err != nil {
			t.Errorf("%q: %v", c.keys, err)
			continue
		}
		a := cfg.APITokens
		if *a.AuditRetentionDays != c.retention || *a.LastUsedResolutionSeconds != c.lastUs || a.TokenFormat != c.format || a.TokenPrefix != c.prefix {
			t.Errorf("%q: got retention %d, resolution %d, format %q, prefix %q; want %d, %d, %q, %q",
				c.keys, *a.AuditRetentionDays, *a.LastUsedResolutionSeconds, a.TokenFormat, a.TokenPrefix, c.retention, c.lastUs, c.format, c.prefix)
		}
	}
}

// TestErrorsNameTheKey: every rejected configuration names the key at fault.
func TestErrorsNameTheKey(t *testing.T) {
	cases := []struct {
		name    string
		yaml    string
		wantKey string
	}{
		{"empty file", "", "file is empty"},
		{"unknown top-level key", minimalYAML + "deploymentNmae: x\n", `unknown key "deploymentNmae" in (top level)`},
		{"unknown nested key", strings.Replace(minimalYAML, "  clientId:", "  clientID: x\n  clientId:", 1), `unknown key "clientID" in authConfig`},
		{"missing deploymentName", drop(minimalYAML, "deploymentName"), "deploymentName is required"},
		{"missing deploymentStage", drop(minimalYAML, "deploymentStage"), "deploymentStage is required"},
		{"missing region", drop(minimalYAML, "region"), "region is required"},
		{"missing authority", drop(minimalYAML, "  authority"), "authConfig.authority is required"},
		{"missing clientId", drop(minimalYAML, "  clientId"), "authConfig.clientId is required"},
		{"missing adminGroup", drop(minimalYAML, "  adminGroup"), "authConfig.adminGroup is required"},
		{"missing upstreamUrl", drop(minimalYAML, "  upstreamUrl"), "serve.upstreamUrl is required"},
		{"http authority", strings.Replace(minimalYAML, "https://idp", "http://idp", 1), "authConfig.authority"},
		{"bad name", strings.Replace(minimalYAML, "deploymentName: lisa", "deploymentName: my_lisa", 1), "deploymentName"},
		{"bad region", strings.Replace(minimalYAML, "us-east-1", "useast1", 1), "region"},
		{"wrong type", minimalYAML + "logRetentionDays: ninety\n", "(logRetentionDays)"},
		{"wrong nested type", minimalYAML + "apiTokens:\n  throttling:\n    rateLimit: fast\n", "(apiTokens.throttling.rateLimit)"},
		{"bad retention", minimalYAML + "logRetentionDays: 42\n", "logRetentionDays"},
		{"bad removal policy", minimalYAML + "removalPolicy: keep\n", "removalPolicy"},
		{"default beyond max", minimalYAML + "apiTokens:\n  defaultTokenDays: 400\n  maxTokenDays: 365\n", "apiTokens.defaultTokenDays"},
		{"authorizer cache too long", minimalYAML + "apiTokens:\n  authorizerCacheSeconds: 7200\n", "apiTokens.authorizerCacheSeconds"},
		{"negative token cache", minimalYAML + "apiTokens:\n  tokenCacheSeconds: -1\n", "apiTokens.tokenCacheSeconds"},
		{"secret name instead of ARN", strings.Replace(minimalYAML, "  upstreamUrl:", "  upstreamApiKeySecretArn: litellm-key\n  upstreamUrl:", 1), "serve.upstreamApiKeySecretArn"},
		{"role with spaces", minimalYAML + "roles:\n  ApiTokensApiRole: my role\n", "roles.ApiTokensApiRole"},
		{"unknown role key", minimalYAML + "roles:\n  ApiTokensRole: x\n", `unknown key "ApiTokensRole" in roles`},
		{"bad cidr", minimalYAML + "network:\n  allowedCidrs: [10.0.0.0]\n", "network.allowedCidrs[0]"},
		{"bad certificate", minimalYAML + "network:\n  certificateArn: my-cert\n", "network.certificateArn"},
		{"subnets without zones", minimalYAML + "network:\n  vpcId: vpc-1\n  subnetIds: [subnet-1, subnet-2]\n", "network.availabilityZones"},
		{"vpc lookup without account", minimalYAML + "network:\n  vpcId: vpc-1\n", "accountNumber"},
		{"listener without security group", minimalYAML + "network:\n  existingListener:\n    arn: arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/a/b/c\n", "network.existingListener.securityGroupId"},
		{"listener and certificate", minimalYAML + "network:\n  certificateArn: arn:aws:acm:us-east-1:123456789012:certificate/x\n  existingListener:\n    arn: arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/a/b/c\n    securityGroupId: sg-1\n", "network.existingListener"},
		{"upstream with credentials", strings.Replace(minimalYAML, "https://litellm", "https://user:pw@litellm", 1), "serve.upstreamUrl"},
		{"upstream with query", strings.Replace(minimalYAML, "litellm.example.com", "litellm.example.com/v1?key=x", 1), "serve.upstreamUrl"},
		{"duplicate model ids", minimalYAML + "  modelPermissions:\n    Llama3: [a]\n    llama3: [b]\n", "serve.modelPermissions"},
		{"empty group", minimalYAML + "  modelPermissions:\n    llama3: [\"\"]\n", "serve.modelPermissions"},
		{"unknown model default", minimalYAML + "  modelPermissionsDefault: closed\n", "serve.modelPermissionsDefault"},
		{"model default in capitals", minimalYAML + "  modelPermissionsDefault: Deny\n", "serve.modelPermissionsDefault"},
		{"blank username claim", strings.Replace(minimalYAML, "  clientId:", "  jwtUsernameProperty: \" \"\n  clientId:", 1), "authConfig.jwtUsernameProperty"},
		{"reserved concurrency 0", minimalYAML + "functions:\n  serve:\n    reservedConcurrency: 0\n", "functions.serve.reservedConcurrency"},
		{"negative reserved concurrency", minimalYAML + "functions:\n  authorizer:\n    reservedConcurrency: -5\n", "functions.authorizer.reservedConcurrency"},
		{"unknown function", minimalYAML + "functions:\n  server:\n    reservedConcurrency: 5\n", "functions.server"},
		{"unknown function key", minimalYAML + "functions:\n  serve:\n    reservedConcurency: 5\n", "functions.serve.reservedConcurency"},
		{"serve.vpc keys without enabled", minimalYAML + "  vpc:\n    vpcId: vpc-1\n    subnetIds: [subnet-1]\n    securityGroupIds: [sg-1]\n", "serve.vpc.enabled"},
		{"serve.vpc in a VPC not created here", minimalYAML + "  vpc:\n    enabled: true\nnetwork:\n  vpcId: vpc-1\n  subnetIds: [subnet-1, subnet-2]\n  availabilityZones: [us-east-1a, us-east-1b]\n", "serve.vpc.subnetIds"},
		{"serve.vpc with an existing listener", minimalYAML + "  vpc:\n    enabled: true\nnetwork:\n  existingListener:\n    arn: arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/a/b/c\n    securityGroupId: sg-1\n", "serve.vpc.subnetIds"},
		{"serve.vpc subnets without security groups", minimalYAML + "  vpc:\n    enabled: true\n    vpcId: vpc-1\n    subnetIds: [subnet-1]\n", "serve.vpc.securityGroupIds"},
		{"serve.vpc subnets without a VPC id", minimalYAML + "  vpc:\n    enabled: true\n    subnetIds: [subnet-1]\n    securityGroupIds: [sg-1]\n", "serve.vpc.vpcId"},
		{"serve.vpc bad subnet id", minimalYAML + "  vpc:\n    enabled: true\n    vpcId: vpc-1\n    subnetIds: [sg-1]\n    securityGroupIds: [sg-1]\n", "serve.vpc.subnetIds[0]"},
		{"serve.vpc bad security group id", minimalYAML + "  vpc:\n    enabled: true\n    vpcId: vpc-1\n    subnetIds: [subnet-1]\n    securityGroupIds: [subnet-1]\n", "serve.vpc.securityGroupIds[0]"},
		{"serve.vpc unknown key", minimalYAML + "  vpc:\n    enabled: true\n    subnets: [subnet-1]\n", `unknown key "subnets" in serve.vpc`},
		{"audit retention 0", minimalYAML + "apiTokens:\n  auditRetentionDays: 0\n", "apiTokens.auditRetentionDays"},
		{"audit retention beyond ten years", minimalYAML + "apiTokens:\n  auditRetentionDays: 3651\n", "apiTokens.auditRetentionDays"},
		{"negative last-used resolution", minimalYAML + "apiTokens:\n  lastUsedResolutionSeconds: -1\n", "apiTokens.lastUsedResolutionSeconds"},
		{"last-used resolution beyond a day", minimalYAML + "apiTokens:\n  lastUsedResolutionSeconds: 86401\n", "apiTokens.lastUsedResolutionSeconds"},
		{"unknown token format", minimalYAML + "apiTokens:\n  tokenFormat: base64\n", "apiTokens.tokenFormat"},
		{"token format in capitals", minimalYAML + "apiTokens:\n  tokenFormat: Prefixed\n", "apiTokens.tokenFormat"},
		{"prefix with hex tokens", minimalYAML + "apiTokens:\n  tokenPrefix: acme\n", "apiTokens.tokenPrefix applies only to apiTokens.tokenFormat: prefixed"},
		{"prefix in capitals", minimalYAML + "apiTokens:\n  tokenFormat: prefixed\n  tokenPrefix: Acme\n", "apiTokens.tokenPrefix"},
		{"prefix of one letter", minimalYAML + "apiTokens:\n  tokenFormat: prefixed\n  tokenPrefix: a\n", "apiTokens.tokenPrefix"},
		{"prefix too long", minimalYAML + "apiTokens:\n  tokenFormat: prefixed\n  tokenPrefix: abcdefghijklmnopq\n", "apiTokens.tokenPrefix"},
		{"prefix starting with a digit", minimalYAML + "apiTokens:\n  tokenFormat: prefixed\n  tokenPrefix: 1abc\n", "apiTokens.tokenPrefix"},
		{"prefix with an underscore", minimalYAML + "apiTokens:\n  tokenFormat: prefixed\n  tokenPrefix: ab_c\n", "apiTokens.tokenPrefix"},
		{"reserved concurrency of a new function", minimalYAML + "functions:\n  rotate:\n    reservedConcurrency: 0\n", "functions.rotate.reservedConcurrency"},
		{"model permissions too large", minimalYAML + "  modelPermissions:\n" + bigModelPermissions(), "serve.modelPermissions"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig(ConfigFileName, []byte(c.yaml))
			if err == nil {
				t.Fatalf("want an error naming %q, got none", c.wantKey)
			}
			msg := err.Error()
			if !strings.Contains(msg, c.wantKey) {
				t.Errorf("error %q does not name %q", msg, c.wantKey)
			}
			if !strings.HasPrefix(msg, ConfigFileName+": ") {
				t.Errorf("error %q does not start with the file name", msg)
			}
		})
	}
}

// TestPlainHTTPUpstream: the serve function sends the upstream's API key
// with every call, so plain http is refused unless the host is loopback or
// serve.allowInsecureUpstream says the network is trusted.
func TestPlainHTTPUpstream(t *testing.T) {
	withURL := func(u string, extra ...string) string {
		return strings.Replace(minimalYAML, "https://litellm.example.com", u, 1) + strings.Join(extra, "")
	}
	allow := "  allowInsecureUpstream: true\n"
	for _, c := range []struct {
		yaml string
		ok   bool
	}{
		{withURL("http://litellm.internal:4000/v1"), false},
		{withURL("http://10.0.12.7:4000/v1"), false},
		{withURL("HTTP://litellm.internal/v1"), false},
		{withURL("http://localhost.example.com/v1"), false},
		{withURL("http://127.0.0.1.nip.io/v1"), false},
		{withURL("http://[fe80::1]:4000/v1"), false},
		{withURL("http://127.0.0.1:4000/v1"), true},
		{withURL("http://127.8.9.10/v1"), true},
		{withURL("http://localhost:4000/v1"), true},
		{withURL("http://LocalHost/v1"), true},
		{withURL("http://[::1]:4000/v1"), true},
		{withURL("https://litellm.internal:4000/v1"), true},
		{withURL("http://litellm.internal:4000/v1", allow), true},
		{withURL("http://10.0.12.7:4000/v1", allow), true},
	} {
		_, err := ParseConfig(ConfigFileName, []byte(c.yaml))
		url := strings.Fields(strings.SplitN(c.yaml, "upstreamUrl:", 2)[1])[0]
		switch {
		case c.ok && err != nil:
			t.Errorf("%s refused: %v", url, err)
		case !c.ok && err == nil:
			t.Errorf("%s accepted: the upstream key would travel in clear text", url)
		case !c.ok:
			for _, want := range []string{"serve.upstreamUrl", "clear text", "serve.allowInsecureUpstream"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%s: error %q does not say %q", url, err, want)
				}
			}
		}
	}
}

func TestAllProblemsReportedAtOnce(t *testing.T) {
	_, err := ParseConfig(ConfigFileName, []byte("region: us-east-1\n"))
	if err == nil {
		t.Fatal("want errors")
	}
	for _, key := range []string{"deploymentName", "deploymentStage", "authConfig.authority", "authConfig.clientId", "authConfig.adminGroup", "serve.upstreamUrl"} {
		if !strings.Contains(err.Error(), key+" is required") {
			t.Errorf("missing report for %s in:\n%v", key, err)
		}
	}
}

func TestCheckBuildDir(t *testing.T) {
	if err := CheckBuildDir(testBuildDir); err != nil {
		t.Errorf("complete build dir rejected: %v", err)
	}
	dir := t.TempDir()
	err := CheckBuildDir(dir)
	if err == nil || !strings.Contains(err.Error(), "make build") || !strings.Contains(err.Error(), EnvBuildDir) {
		t.Errorf("want an error suggesting `make build` or %s, got %v", EnvBuildDir, err)
	}
}

// drop removes the line that starts with key.
func drop(yaml, key string) string {
	var out []string
	for _, l := range strings.Split(yaml, "\n") {
		if !strings.HasPrefix(l, key+":") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func bigModelPermissions() string {
	var b strings.Builder
	for i := 0; i < 100; i++ {
		b.WriteString("    model-with-a-rather-long-name-" + strings.Repeat("x", 10) + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ": [group-a, group-b]\n")
	}
	return b.String()
}

func TestEnvOr(t *testing.T) {
	t.Setenv("APITOKENS_TEST_ENV", "")
	if got := envOr("APITOKENS_TEST_ENV", "def"); got != "def" {
		t.Errorf("envOr of an empty variable = %q, want the default", got)
	}
	os.Setenv("APITOKENS_TEST_ENV", "set")
	if got := envOr("APITOKENS_TEST_ENV", "def"); got != "set" {
		t.Errorf("envOr = %q, want the variable's value", got)
	}
}
