package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/llmgw/apitokens/pkg/local/dynamolocal"
	"github.com/llmgw/apitokens/pkg/local/dynamolocal/dltest"
	"github.com/llmgw/apitokens/pkg/schema"
	"github.com/llmgw/apitokens/pkg/secret"
	"github.com/llmgw/apitokens/pkg/store"
	"github.com/llmgw/apitokens/pkg/store/dynamostore"
	"github.com/llmgw/apitokens/pkg/store/dynamostore/dynamotest"
	"github.com/llmgw/apitokens/pkg/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(dltest.Main(m)) }

func newStore(t *testing.T) store.Store {
	client := dltest.Client(t)
	return dynamotest.New(client, dltest.TokenTable(t, client))
}

func TestConformance(t *testing.T) { storetest.Run(t, newStore) }

// inspecting records the last GetItem and Query inputs on top of counting.
type inspecting struct {
	*dynamotest.Counting
	mu        sync.Mutex
	lastGet   *dynamodb.GetItemInput
	lastQuery *dynamodb.QueryInput
}

func (c *inspecting) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.mu.Lock()
	c.lastGet = in
	c.mu.Unlock()
	return c.Counting.GetItem(ctx, in, o...)
}

func (c *inspecting) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.mu.Lock()
	c.lastQuery = in
	c.mu.Unlock()
	return c.Counting.Query(ctx, in, o...)
}

func newCounting(t *testing.T) (*dynamotest.Store, *dynamotest.Counting, *dynamodb.Client, string) {
	client := dltest.Client(t)
	table := dltest.TokenTable(t, client)
	c := dynamotest.NewCounting(client)
	return dynamotest.New(c, table), c, client, table
}

func TestLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large listing skipped in -short mode")
	}
	var c *dynamotest.Counting
	storetest.RunLarge(t, func(t *testing.T) store.Store {
		var s *dynamotest.Store
		s, c, _, _ = newCounting(t)
		return s
	}, 3000)
	// Two full listings of 3005 items with Limit 100 and 1000 are at least
	// 31 + 4 pages, each at least one Scan.
	counts := c.Counts()
	if n := counts["Scan"]; n < 35 {
		t.Errorf("%d Scan calls for two listings of 3000 items; want the listings to have crossed many DynamoDB pages", n)
	}
	t.Logf("DynamoDB calls: %v", counts)
}

// TestListCrossesResponseSizeLimit fills the table with ~1.2 MB so that one
// Scan response (cut at 1 MB) cannot hold a page of 1000: List must go on
// to the next DynamoDB page within one call.
func TestListCrossesResponseSizeLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode")
	}
	s, c, _, _ := newCounting(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const n = 600
	bigName := strings.Repeat("x", 2000)
	toks := make([]store.Token, n)
	for i := range toks {
		toks[i] = testToken(fmt.Sprintf("user%d", i), true)
		toks[i].Name = bigName
	}
	if err := s.PutBatch(ctx, toks); err != nil {
		t.Fatal(err)
	}
	before := c.Counts()["Scan"]
	page, err := s.List(ctx, store.ListOptions{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	scans := c.Counts()["Scan"] - before
	if len(page.Tokens) != n || page.Cursor != "" {
		t.Fatalf("one List(Limit: 1000) returned %d tokens and cursor %q; want all %d and no cursor", len(page.Tokens), page.Cursor, n)
	}
	if scans < 2 {
		t.Errorf("one List call made %d Scan calls; 1.2 MB cannot come in one DynamoDB page", scans)
	}
	t.Logf("List(Limit: 1000) over ~1.2 MB: %d Scan calls", scans)
}

// TestReadsPerOperation pins the read pattern the design relies on: the
// authorizer's one strongly consistent GetItem, and GetByUUID as one Query
// of the index by key without Limit.
func TestReadsPerOperation(t *testing.T) {
	client := dltest.Client(t)
	c := &inspecting{Counting: dynamotest.NewCounting(client)}
	s := dynamotest.New(c, dltest.TokenTable(t, client))
	ctx := context.Background()
	tok := testToken("alice", false)
	if err := s.Create(ctx, tok); err != nil {
		t.Fatal(err)
	}
	before := c.Counts()
	if _, err := s.GetByHash(ctx, tok.Hash); err != nil {
		t.Fatal(err)
	}
	if n := c.Counts()["GetItem"] - before["GetItem"]; n != 1 || !aws.ToBool(c.lastGet.ConsistentRead) {
		t.Errorf("GetByHash: %d GetItem calls, ConsistentRead=%v; want 1 consistent read", n, aws.ToBool(c.lastGet.ConsistentRead))
	}
	if _, err := s.GetByUUID(ctx, tok.UUID); err != nil {
		t.Fatal(err)
	}
	q := c.lastQuery
	if n := c.Counts()["Query"] - before["Query"]; n != 1 || aws.ToString(q.IndexName) != schema.IndexTokenUUID || q.Limit != nil || q.FilterExpression != nil {
		t.Errorf("GetByUUID: %d queries, index %q, limit %v, filter %v; want 1 query of %s by key",
			n, aws.ToString(q.IndexName), q.Limit, q.FilterExpression, schema.IndexTokenUUID)
	}
	if n := c.Counts()["Scan"]; n != 0 {
		t.Errorf("%d scans; GetByHash and GetByUUID must never scan", n)
	}
	before = c.Counts()
	if _, err := s.GetByHash(ctx, schema.GuardKey("alice")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetByHash(guard key): %v, want ErrNotFound", err)
	}
	if n := c.Counts()["GetItem"] - before["GetItem"]; n != 0 {
		t.Errorf("GetByHash(guard key) made %d reads, want none", n)
	}
}

// TestUnreachable: with DynamoDB gone, every operation fails fast with an
// error that is none of the store's sentinels (callers map it to 5xx, and
// the authorizer denies), and nothing panics.
func TestUnreachable(t *testing.T) {
	client, err := dynamolocal.NewClient(context.Background(), "http://127.0.0.1:1", func(o *dynamodb.Options) {
		o.RetryMaxAttempts = 1
		o.HTTPClient = &http.Client{Timeout: 2 * time.Second}
	})
	if err != nil {
		t.Fatal(err)
	}
	s := dynamotest.New(client, "missing")
	tok := testToken("alice", false)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name string
		op   func() error
	}{
		{"Create", func() error { return s.Create(ctx, tok) }},
		{"CreateSystem", func() error { t := tok; t.IsSystem = true; return s.Create(ctx, t) }},
		{"GetByHash", func() error { _, err := s.GetByHash(ctx, tok.Hash); return err }},
		{"GetByUUID", func() error { _, err := s.GetByUUID(ctx, tok.UUID); return err }},
		{"GetLegacy", func() error { _, err := s.GetLegacy(ctx, secret.LegacyID("x")); return err }},
		{"Delete", func() error { return s.Delete(ctx, tok) }},
		{"List", func() error { _, err := s.List(ctx, store.ListOptions{Limit: 10}); return err }},
		{"ListByUser", func() error { _, err := s.List(ctx, store.ListOptions{Username: "alice", Limit: 10}); return err }},
		{"CreateTable", func() error { return dynamostore.CreateTable(ctx, client, "missing") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := tc.op()
			if err == nil {
				t.Fatal("succeeded against an unreachable endpoint")
			}
			for _, sentinel := range []error{store.ErrNotFound, store.ErrSlotTaken, store.ErrExists, store.ErrBadCursor} {
				if errors.Is(err, sentinel) {
					t.Errorf("error %v matches %v; an outage must not look like an answer", err, sentinel)
				}
			}
			if !strings.HasPrefix(err.Error(), "dynamostore: ") {
				t.Errorf("error %q does not say where it came from", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s, want a quick failure", d)
			}
		})
	}
}

// TestDeleteTokenWithoutGuard covers tokens written before guard items
// existed (or by hand): Delete must still remove them, and must not free a
// slot that another token holds.
func TestDeleteTokenWithoutGuard(t *testing.T) {
	s, _, client, table := newCounting(t)
	ctx := context.Background()
	old := testToken("alice", false)
	putRaw(t, client, table, map[string]types.AttributeValue{
		schema.AttrToken:         &types.AttributeValueMemberS{Value: old.Hash},
		schema.AttrTokenUUID:     &types.AttributeValueMemberS{Value: old.UUID},
		schema.AttrUsername:      &types.AttributeValueMemberS{Value: old.Username},
		schema.AttrIsSystemToken: &types.AttributeValueMemberBOOL{Value: false},
	})
	current := testToken("alice", false)
	if err := s.Create(ctx, current); err != nil {
		t.Fatalf("Create beside an unguarded token: %v", err)
	}
	got, err := s.GetByUUID(ctx, old.UUID)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, got); err != nil {
		t.Fatalf("Delete(unguarded token): %v", err)
	}
	if _, err := s.GetByHash(ctx, old.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unguarded token still there: %v", err)
	}
	if err := s.Create(ctx, testToken("alice", false)); !errors.Is(err, store.ErrSlotTaken) {
		t.Errorf("after deleting the unguarded token: %v, want ErrSlotTaken (the current token keeps the slot)", err)
	}
	if err := s.Delete(ctx, current); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, testToken("alice", false)); err != nil {
		t.Errorf("after deleting the current token: %v, want success", err)
	}
}

// TestHandWrittenItems: items written with the AWS CLI may use other types
// than the store writes; reading them must not break listings.
func TestHandWrittenItems(t *testing.T) {
	s, _, client, table := newCounting(t)
	ctx := context.Background()
	putRaw(t, client, table, map[string]types.AttributeValue{
		schema.AttrToken:           &types.AttributeValueMemberS{Value: "hand-written"},
		schema.AttrTokenExpiration: &types.AttributeValueMemberS{Value: "1767225600"},
	})
	putRaw(t, client, table, map[string]types.AttributeValue{
		schema.AttrToken:           &types.AttributeValueMemberS{Value: "fractional"},
		schema.AttrTokenExpiration: &types.AttributeValueMemberN{Value: "1767225600.5"},
	})
	id := uuid.NewString()
	putRaw(t, client, table, map[string]types.AttributeValue{
		schema.AttrToken:     &types.AttributeValueMemberS{Value: secret.Hash("x")},
		schema.AttrTokenUUID: &types.AttributeValueMemberS{Value: id},
		schema.AttrUsername:  &types.AttributeValueMemberS{Value: "bob"},
		schema.AttrGroups:    &types.AttributeValueMemberSS{Value: []string{"g1"}},
	})
	page, err := s.List(ctx, store.ListOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Tokens) != 3 {
		t.Fatalf("listed %d items, want 3", len(page.Tokens))
	}
	for _, tok := range page.Tokens {
		switch {
		case tok.Legacy && tok.Expiration != 1767225600:
			t.Errorf("legacy %s: expiration %d, want 1767225600", secret.LegacyID(tok.Hash), tok.Expiration)
		case !tok.Legacy && (tok.UUID != id || len(tok.Groups) != 1 || tok.Groups[0] != "g1"):
			t.Errorf("token read as %+v", tok)
		}
	}
}

func TestCreateTable(t *testing.T) {
	client := dltest.Client(t)
	ctx := context.Background()
	table := dltest.TokenTable(t, client)
	if err := dynamostore.CreateTable(ctx, client, table); err != nil {
		t.Errorf("CreateTable on an existing table: %v, want nil", err)
	}
	out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	if bm := out.Table.BillingModeSummary; bm == nil || bm.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("billing mode %+v, want PAY_PER_REQUEST", bm)
	}
	for _, ix := range out.Table.GlobalSecondaryIndexes {
		if ix.Projection == nil || ix.Projection.ProjectionType != types.ProjectionTypeAll {
			t.Errorf("index %s projection %+v, want ALL", aws.ToString(ix.IndexName), ix.Projection)
		}
	}

	other := dltest.TableName(t)
	_, err = client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(other),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(other)})
	})
	if err := dynamostore.CreateTable(ctx, client, other); err == nil {
		t.Error("CreateTable accepted an existing table with another key schema")
	}
}

func putRaw(t *testing.T, client *dynamodb.Client, table string, item map[string]types.AttributeValue) {
	t.Helper()
	if _, err := client.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatal(err)
	}
}

func testToken(user string, system bool) store.Token {
	sec, err := secret.Generate(nil)
	if err != nil {
		panic(err)
	}
	return store.Token{
		Hash: secret.Hash(sec), UUID: uuid.NewString(), Username: user, CreatedBy: user,
		CreatedDate: 1_767_225_600, Expiration: 1_774_915_200, Name: "t", Groups: []string{"lisa-users"}, IsSystem: system,
	}
}

// TestCreateReclaimsGuardOfHandDeletedToken: an admin revokes a token with
// `aws dynamodb delete-item`, which removes the token item but not the
// user's guard. The next create must not find the slot taken for ever.
func TestCreateReclaimsGuardOfHandDeletedToken(t *testing.T) {
	s, _, client, table := newCounting(t)
	ctx := context.Background()
	first := testToken("alice", false)
	if err := s.Create(ctx, first); err != nil {
		t.Fatal(err)
	}
	// The slot is genuinely taken while the token exists.
	if err := s.Create(ctx, testToken("alice", false)); !errors.Is(err, store.ErrSlotTaken) {
		t.Fatalf("second create while the first exists: %v, want ErrSlotTaken", err)
	}
	_, err := client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(table),
		Key:       map[string]types.AttributeValue{schema.AttrToken: &types.AttributeValueMemberS{Value: first.Hash}},
	})
	if err != nil {
		t.Fatal(err)
	}
	next := testToken("alice", false)
	if err := s.Create(ctx, next); err != nil {
		t.Fatalf("create after the token was deleted by hand: %v", err)
	}
	if err := s.Create(ctx, testToken("alice", false)); !errors.Is(err, store.ErrSlotTaken) {
		t.Fatalf("the reclaimed slot is not held by the new token: %v", err)
	}
	if err := s.Delete(ctx, next); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, testToken("alice", false)); err != nil {
		t.Fatalf("after a normal delete: %v", err)
	}
}
