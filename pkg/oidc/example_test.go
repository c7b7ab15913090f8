package oidc_test

import (
	"context"
	"fmt"
	"time"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/local/devoidc"
	"github.com/llmgw/apitokens/pkg/oidc"
)

// A verifier for AUTHORITY and CLIENT_ID, here pointed at the development
// issuer. The decision core routes JWT-shaped credentials to Verify.
func Example() {
	ctx := context.Background()
	iss, srv, err := devoidc.NewTestServer(devoidc.Options{Audience: "my-client", KeyType: devoidc.ES256, GroupsClaim: "cognito:groups"})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	v, err := oidc.New(ctx, oidc.Config{Issuer: iss.URL(), Audience: "my-client", GroupsClaim: "cognito:groups"})
	if err != nil {
		panic(err) // configuration errors only; the issuer is not contacted yet
	}
	tok, _ := iss.Token("alice", []string{"lisa-users"}, time.Hour)
	fmt.Println(auth.LooksLikeJWT(tok))

	id, err := v.Verify(ctx, tok)
	fmt.Println(id.Username, id.Groups, err)

	_, err = v.Verify(ctx, "not-a-jwt")
	fmt.Println(apierr.Status(err), apierr.CodeOf(err))
	// Output:
	// true
	// alice [lisa-users] <nil>
	// 401 jwt_malformed
}
