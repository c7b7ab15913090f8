package authorizer_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/authorizer"
)

// stub maps fixed credentials to outcomes; the real core is exercised in
// pkg/auth and end to end through the local stack.
var stub = auth.AuthenticatorFunc(func(_ context.Context, h http.Header) (auth.Principal, error) {
	cred, err := auth.Credential(h)
	if err != nil {
		return auth.Principal{}, err
	}
	switch cred {
	case "good":
		return auth.Principal{Username: "bob", Groups: []string{"lisa-api-users"}, AuthType: auth.AuthAPIToken, TokenUUID: "u-1", IsAPIUser: true}, nil
	case "down":
		return auth.Principal{}, apierr.New(apierr.Unavailable, "token store unavailable")
	}
	return auth.Principal{}, apierr.New(apierr.Unauthenticated, "unknown token")
})

func loadEvent(t *testing.T) events.APIGatewayCustomAuthorizerRequestTypeRequest {
	t.Helper()
	b, err := os.ReadFile("../../authorizer/testdata/request.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayCustomAuthorizerRequestTypeRequest
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// setHeaders replaces the fixture's headers in both forms, as API Gateway
// always sends them.
func setHeaders(ev *events.APIGatewayCustomAuthorizerRequestTypeRequest, kv ...string) {
	ev.Headers = map[string]string{}
	ev.MultiValueHeaders = map[string][]string{}
	for i := 0; i < len(kv); i += 2 {
		ev.Headers[kv[i]] = kv[i+1]
		ev.MultiValueHeaders[kv[i]] = []string{kv[i+1]}
	}
}

func TestAuthorizer(t *testing.T) {
	h := authorizer.New(stub, nil)
	ctx := context.Background()

	t.Run("allow with wildcard resource and principal context", func(t *testing.T) {
		ev := loadEvent(t)
		setHeaders(&ev, "authorization", "Bearer good")
		resp, err := h(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		st := resp.PolicyDocument.Statement
		if len(st) != 1 || st[0].Effect != "Allow" || st[0].Resource[0] != "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/*" {
			t.Fatalf("policy = %+v", resp.PolicyDocument)
		}
		p, err := auth.PrincipalFromContext(resp.Context)
		if err != nil || p.Username != "bob" || p.TokenUUID != "u-1" || p.AuthType != auth.AuthAPIToken || !p.IsAPIUser {
			t.Fatalf("context principal = %+v, %v", p, err)
		}
		if resp.PrincipalID != "bob" {
			t.Fatalf("principalId = %q", resp.PrincipalID)
		}
	})
	t.Run("multi-value Api-Key header", func(t *testing.T) {
		ev := loadEvent(t)
		ev.Headers = nil
		ev.MultiValueHeaders = map[string][]string{"api-key": {"good"}}
		if _, err := h(ctx, ev); err != nil {
			t.Fatal(err)
		}
	})
	for _, tc := range []struct {
		name, cred   string
		unauthorized bool
	}{
		{"refused -> Unauthorized (401)", "bad", true},
		{"no credential -> Unauthorized (401)", "", true},
		{"store down -> other error (500), never allow", "down", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := loadEvent(t)
			setHeaders(&ev, "Authorization", tc.cred)
			resp, err := h(ctx, ev)
			if err == nil || len(resp.PolicyDocument.Statement) != 0 {
				t.Fatalf("got policy %+v, err %v; want an error and no policy", resp.PolicyDocument, err)
			}
			if errors.Is(err, authorizer.ErrUnauthorized) != tc.unauthorized || (err.Error() == "Unauthorized") != tc.unauthorized {
				t.Fatalf("err = %q, unauthorized want %v", err, tc.unauthorized)
			}
		})
	}
	t.Run("malformed methodArn fails closed", func(t *testing.T) {
		ev := loadEvent(t)
		ev.MethodArn = "nonsense"
		setHeaders(&ev, "Authorization", "good")
		if _, err := h(ctx, ev); err == nil || errors.Is(err, authorizer.ErrUnauthorized) {
			t.Fatalf("err = %v, want a non-Unauthorized error", err)
		}
	})
}
