package main

import (
	"strings"
	"testing"
)

func TestConsoleDefaults(t *testing.T) {
	cfg, err := ParseConfig(ConfigFileName, []byte(minimalYAML))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Console.On() || cfg.Console.Enabled == nil || !*cfg.Console.Enabled {
		t.Errorf("console.enabled defaults to %v, want true", cfg.Console.Enabled)
	}
	cfg, err = ParseConfig(ConfigFileName, []byte(minimalYAML+"console:\n  enabled: false\n"))
	if err != nil || cfg.Console.On() {
		t.Errorf("console.enabled: false: On() = %v, err %v", cfg != nil && cfg.Console.On(), err)
	}
}

func TestConsoleErrorsNameTheKey(t *testing.T) {
	cases := map[string]struct{ yaml, want string }{
		"unknown key": {"console:\n  domian: x\n", `unknown key "domian" in console`},
		"certificate in another region": {
			"console:\n  domainName: console.example.com\n  certificateArn: arn:aws:acm:eu-west-1:123456789012:certificate/abc\n",
			"console.certificateArn \"arn:aws:acm:eu-west-1:123456789012:certificate/abc\" is in eu-west-1; CloudFront only uses ACM certificates from us-east-1",
		},
		"not a certificate": {
			"console:\n  domainName: console.example.com\n  certificateArn: arn:aws:iam::123456789012:role/x\n",
			"console.certificateArn \"arn:aws:iam::123456789012:role/x\" must be an ACM certificate ARN",
		},
		"domain without certificate": {"console:\n  domainName: console.example.com\n", "console.certificateArn is required with console.domainName"},
		"certificate without domain": {
			"console:\n  certificateArn: arn:aws:acm:us-east-1:123456789012:certificate/abc\n", "console.domainName is required with console.certificateArn",
		},
		"domain with a scheme": {
			"console:\n  domainName: https://console.example.com\n  certificateArn: arn:aws:acm:us-east-1:123456789012:certificate/abc\n",
			"console.domainName \"https://console.example.com\" must be a lower-case host name",
		},
		"price class":  {"console:\n  priceClass: cheap\n", `console.priceClass "cheap" must be one of PriceClass_100, PriceClass_200, PriceClass_All`},
		"serve url":    {"console:\n  serveUrl: http://llm.example.com/v2/serve\n", `console.serveUrl "http://llm.example.com/v2/serve" must be an https URL`},
		"idp origin":   {"console:\n  identityProviderOrigins: [https://x.auth.us-east-1.amazoncognito.com/oauth2]\n", "console.identityProviderOrigins[0]"},
		"enabled type": {"console:\n  enabled: maybe\n", "console.enabled"},
	}
	for name, c := range cases {
		_, err := ParseConfig(ConfigFileName, []byte(minimalYAML+c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: want an error containing %q, got %v", name, c.want, err)
		}
	}
	ok := minimalYAML + "console:\n  domainName: console.example.com\n  certificateArn: arn:aws:acm:us-east-1:123456789012:certificate/abc-123\n" +
		"  priceClass: PriceClass_200\n  serveUrl: https://llm.example.com/v2/serve\n  identityProviderOrigins: [https://x.auth.us-east-1.amazoncognito.com]\n"
	if _, err := ParseConfig(ConfigFileName, []byte(ok)); err != nil {
		t.Errorf("a complete console section is refused: %v", err)
	}
}
