package config_test

import (
	"strings"
	"testing"

	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/secret"
)

func TestTokenFormat(t *testing.T) {
	for _, tc := range []struct {
		name   string
		env    map[string]string
		want   secret.Format
		errVar string // the variable the error must name; "" for none
	}{
		{"default", nil, secret.Hex, ""},
		{"hex", map[string]string{config.EnvTokenFormat: "hex"}, secret.Hex, ""},
		{"hex ignores a valid prefix", map[string]string{config.EnvTokenPrefix: "acme"}, secret.Hex, ""},
		{"prefixed, default prefix", map[string]string{config.EnvTokenFormat: " Prefixed "}, secret.Format{Prefix: "lisa"}, ""},
		{"prefixed, own prefix", map[string]string{config.EnvTokenFormat: "prefixed", config.EnvTokenPrefix: " acme2 "}, secret.Format{Prefix: "acme2"}, ""},
		{"unknown format", map[string]string{config.EnvTokenFormat: "base62"}, secret.Format{}, config.EnvTokenFormat},
		{"prefix too short", map[string]string{config.EnvTokenFormat: "prefixed", config.EnvTokenPrefix: "a"}, secret.Format{}, config.EnvTokenPrefix},
		{"prefix too long", map[string]string{config.EnvTokenFormat: "prefixed", config.EnvTokenPrefix: strings.Repeat("a", 17)}, secret.Format{}, config.EnvTokenPrefix},
		{"prefix upper case", map[string]string{config.EnvTokenFormat: "prefixed", config.EnvTokenPrefix: "Lisa"}, secret.Format{}, config.EnvTokenPrefix},
		{"prefix starts with a digit", map[string]string{config.EnvTokenFormat: "prefixed", config.EnvTokenPrefix: "1gw"}, secret.Format{}, config.EnvTokenPrefix},
		{"prefix with an underscore", map[string]string{config.EnvTokenFormat: "prefixed", config.EnvTokenPrefix: "my_gw"}, secret.Format{}, config.EnvTokenPrefix},
		// Checked in hex too, so that it is right before it is switched on.
		{"bad prefix in hex", map[string]string{config.EnvTokenPrefix: "my-gw"}, secret.Format{}, config.EnvTokenPrefix},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Load(env(tc.env))
			if tc.errVar != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.errVar+":") {
					t.Fatalf("err = %v, want one naming %s", err, tc.errVar)
				}
				return
			}
			if err != nil || c.TokenFormat != tc.want {
				t.Fatalf("TokenFormat = %+v, %v; want %+v", c.TokenFormat, err, tc.want)
			}
		})
	}
}
