package functions_test

import (
	"context"
	"maps"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/local/devoidc"
	"github.com/llmgw/apitokens/pkg/local/devupstream"
	"github.com/llmgw/apitokens/pkg/local/dynamolocal/dltest"
	"github.com/llmgw/apitokens/pkg/secret"
	"github.com/llmgw/apitokens/pkg/store"
	"github.com/llmgw/apitokens/pkg/store/dynamostore/dynamotest"
)

// upstreamKey is the development upstream's key in these tests.
const upstreamKey = "upstream-key"

// live is what the real bootstrap binaries run against in these tests: a
// token table in DynamoDB Local, a development OIDC issuer and a
// development model upstream, each on its own loopback port.
type live struct {
	// Env is the environment a function of this project reads: the table,
	// DynamoDB Local's endpoint, the groups, the issuer and the upstream.
	Env    map[string]string
	Table  string
	Issuer *devoidc.Issuer
}

// newLive starts a live fixture; extra is added to its environment. Its
// servers stop when tb ends.
func newLive(tb testing.TB, extra map[string]string) live {
	tb.Helper()
	client := dltest.Client(tb)
	table := dltest.TokenTable(tb, client)
	issuer, oidcSrv, err := devoidc.NewTestServer(devoidc.Options{Audience: "lisa-local"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(oidcSrv.Close)
	upSrv := httptest.NewServer(devupstream.New(devupstream.Options{APIKey: upstreamKey}))
	tb.Cleanup(upSrv.Close)
	env := map[string]string{
		config.EnvTableName: table, config.EnvDynamoDBEndpoint: dltest.Endpoint(tb),
		"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
		config.EnvAdminGroup: "lisa-admins", config.EnvUserGroup: "lisa-users", config.EnvAPIGroup: "lisa-api-users",
		config.EnvAuthority: issuer.URL(), config.EnvClientID: "lisa-local", config.EnvJWTGroupsProperty: "groups",
		config.EnvServeUpstreamURL: upSrv.URL + devupstream.BasePath, config.EnvServeUpstreamKey: upstreamKey,
	}
	maps.Copy(env, extra)
	return live{Env: env, Table: table, Issuer: issuer}
}

// apiToken stores a new API token of username in the API group, valid for
// a day, straight into the table (as an admin's create would), and returns
// its secret.
func (l live) apiToken(tb testing.TB, username, name string) string {
	tb.Helper()
	plain, err := secret.Generate(nil)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	if err := dynamotest.New(dltest.Client(tb), l.Table).Create(context.Background(), store.Token{
		Hash: secret.Hash(plain), UUID: uuid.NewString(), Username: username, CreatedBy: "test",
		CreatedDate: now.Unix(), Expiration: now.Add(24 * time.Hour).Unix(), Name: name,
		Groups: []string{"lisa-api-users"},
	}); err != nil {
		tb.Fatalf("create token: %v", err)
	}
	return plain
}
