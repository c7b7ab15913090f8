package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/local/devupstream"
)

const upstreamKeyValue = "upstream-key-for-fixtures"

// fixtureAuth knows the fake credentials the fixture events carry.
var fixtureAuth = auth.AuthenticatorFunc(func(_ context.Context, h http.Header) (auth.Principal, error) {
	cred, err := auth.Credential(h)
	if err != nil {
		return auth.Principal{}, err
	}
	switch cred {
	case "user-token":
		return auth.Principal{Username: "alice", Groups: []string{"lisa-users"}, AuthType: auth.AuthAPIToken, TokenUUID: "uuid-alice"}, nil
	case "admin-token":
		return auth.Principal{Username: "root", Groups: []string{"lisa-admins"}, AuthType: auth.AuthAPIToken, TokenUUID: "uuid-root", IsAdmin: true}, nil
	}
	return auth.Principal{}, apierr.New(apierr.Unauthenticated, "unknown or revoked token").WithCode("unknown_token")
})

func TestFixtureEvents(t *testing.T) {
	up := devupstream.New(devupstream.Options{APIKey: upstreamKeyValue})
	upSrv := httptest.NewServer(up)
	defer upSrv.Close()
	env := map[string]string{
		config.EnvServeUpstreamURL: upSrv.URL + devupstream.BasePath,
		config.EnvModelPermissions: devupstream.DefaultModelPermissions,
		config.EnvAdminGroup:       "lisa-admins",
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	h, err := newHandler(cfg, fixtureAuth, upstreamKeyValue, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		file        string
		status      int
		contentType string
		inBody      string
	}{
		{"models-single-value.json", 200, "application/json", `"id":"local-echo"`},
		{"models-no-credential.json", 401, "application/json", `"code":"missing_credential"`},
		{"chat-multi-value-api-key.json", 200, "application/json", `"content":"hello from an ALB event"`},
		{"chat-restricted-user.json", 403, "application/json", `"code":"model_not_allowed"`},
		{"chat-stream-base64.json", 200, "text/event-stream", "data: [DONE]"},
		{"embeddings-multi-value-query.json", 200, "application/json", `"object":"embedding"`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var e events.ALBTargetGroupRequest
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatal(err)
			}
			multi := e.MultiValueHeaders != nil
			ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-" + tt.file})
			before := len(up.Requests())
			resp, err := h(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tt.status, resp.Body)
			}
			var ct, reqID string
			if multi {
				if resp.Headers != nil || resp.MultiValueHeaders == nil {
					t.Fatalf("a multi-value request must get a multi-value answer: %+v", resp)
				}
				ct, reqID = first(resp.MultiValueHeaders["Content-Type"]), first(resp.MultiValueHeaders["X-Request-Id"])
			} else {
				if resp.MultiValueHeaders != nil || resp.Headers == nil {
					t.Fatalf("a single-value request must get a single-value answer: %+v", resp)
				}
				ct, reqID = resp.Headers["Content-Type"], resp.Headers["X-Request-Id"]
			}
			if ct != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", ct, tt.contentType)
			}
			if reqID != "req-"+tt.file {
				t.Errorf("X-Request-Id = %q, want the Lambda request id", reqID)
			}
			body := resp.Body
			if resp.IsBase64Encoded {
				b, _ := base64.StdEncoding.DecodeString(body)
				body = string(b)
			}
			if !strings.Contains(body, tt.inBody) {
				t.Errorf("body does not contain %s: %s", tt.inBody, body)
			}
			for _, rec := range up.Requests()[before:] {
				if rec.Authorization != "Bearer "+upstreamKeyValue || rec.APIKey != "" || rec.Cookie != "" || rec.RawQuery != "" {
					t.Errorf("the upstream saw a caller credential or query: %+v", rec)
				}
			}
		})
	}
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

func TestNewHandlerRefusesBadConfiguration(t *testing.T) {
	tests := map[string]map[string]string{
		"no upstream":                         {},
		"invalid MODEL_PERMISSIONS":           {config.EnvServeUpstreamURL: "http://up/v1", config.EnvModelPermissions: `{"m": "g"}`},
		"limits without a usage store":        {config.EnvServeUpstreamURL: "http://up/v1", config.EnvDefaultTokenLimits: `{"requestsPerMinute": 5}`},
		"global limits without a usage store": {config.EnvServeUpstreamURL: "http://up/v1", config.EnvGlobalLimits: `{"requestsPerDay": 5}`},
	}
	for name, env := range tests {
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Load(func(k string) string { return env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if _, err := newHandler(cfg, fixtureAuth, "", nil, slog.New(slog.DiscardHandler)); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

type fakeSecrets struct {
	value *string
	err   error
	calls int
	asked string
}

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.calls++
	f.asked = aws.ToString(in.SecretId)
	if f.err != nil {
		return nil, f.err
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: f.value}, nil
}

func TestUpstreamKey(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:upstream-AbCdEf"
	tests := []struct {
		name      string
		key, arn  string
		secret    *fakeSecrets
		want      string
		wantErr   bool
		wantCalls int
	}{
		{name: "plain variable", key: "k1", secret: &fakeSecrets{}, want: "k1"},
		{name: "no key at all", secret: &fakeSecrets{}, want: ""},
		{name: "from Secrets Manager", arn: arn, secret: &fakeSecrets{value: aws.String(" k2\n")}, want: "k2", wantCalls: 1},
		{name: "both set", key: "k1", arn: arn, secret: &fakeSecrets{value: aws.String("k2")}, wantErr: true},
		{name: "secret unreadable", arn: arn, secret: &fakeSecrets{err: errors.New("AccessDenied")}, wantErr: true, wantCalls: 1},
		{name: "binary secret", arn: arn, secret: &fakeSecrets{}, wantErr: true, wantCalls: 1},
		{name: "empty secret", arn: arn, secret: &fakeSecrets{value: aws.String("  ")}, wantErr: true, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Config{ServeUpstreamKey: tt.key, ServeUpstreamKeySecretARN: tt.arn}
			got, err := upstreamKey(context.Background(), cfg, func(context.Context) (secretGetter, error) { return tt.secret, nil })
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("upstreamKey = %q, %v; want %q (error: %v)", got, err, tt.want, tt.wantErr)
			}
			if tt.secret.calls != tt.wantCalls || (tt.wantCalls > 0 && tt.secret.asked != arn) {
				t.Errorf("Secrets Manager called %d times for %q", tt.secret.calls, tt.secret.asked)
			}
			if err != nil && strings.Contains(err.Error(), "k2") {
				t.Errorf("error reveals the key: %v", err)
			}
		})
	}
}
