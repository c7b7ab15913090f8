package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/llmgw/apitokens/pkg/local/dynamolocal"
	"github.com/llmgw/apitokens/pkg/local/dynamolocal/dltest"
	"github.com/llmgw/apitokens/pkg/schema"
	"github.com/llmgw/apitokens/pkg/secret"
	"github.com/llmgw/apitokens/pkg/store"
	"github.com/llmgw/apitokens/pkg/store/dynamostore"
	"github.com/llmgw/apitokens/pkg/store/dynamostore/dynamotest"
	"github.com/llmgw/apitokens/pkg/store/internal/cursorseal"
)

// keyPuts counts the PutItem calls on the cursor key item and those that
// succeeded.
type keyPuts struct {
	dynamostore.API
	tries, wins *atomic.Int32
}

func (k keyPuts) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	out, err := k.API.PutItem(ctx, in, o...)
	if v, ok := in.Item[schema.AttrToken].(*types.AttributeValueMemberS); ok && v.Value == schema.CursorKeyItem {
		k.tries.Add(1)
		if err == nil {
			k.wins.Add(1)
		}
	}
	return out, err
}

// cursorTable is a table holding n tokens, so that List(Limit: 1) issues a
// cursor.
func cursorTable(t *testing.T, n int) (*dynamodb.Client, string, []store.Token) {
	t.Helper()
	client := dltest.Client(t)
	table := dltest.TokenTable(t, client)
	toks := make([]store.Token, n)
	for i := range toks {
		toks[i] = testToken(fmt.Sprintf("user%d", i), false)
	}
	if err := dynamotest.New(client, table).PutBatch(context.Background(), toks); err != nil {
		t.Fatal(err)
	}
	return client, table, toks
}

func firstCursor(t *testing.T, s *dynamotest.Store, opts store.ListOptions) string {
	t.Helper()
	page, err := s.List(context.Background(), opts)
	if err != nil || page.Cursor == "" {
		t.Fatalf("List(%+v) = %+v, %v; want a cursor", opts, page, err)
	}
	return page.Cursor
}

// TestCursorSharedAcrossStores: two Store values over one table are two
// Lambda instances; a listing may go on at either, page by page.
func TestCursorSharedAcrossStores(t *testing.T) {
	client, table, toks := cursorTable(t, 5)
	stores := []*dynamotest.Store{dynamotest.New(client, table), dynamotest.New(client, table)}
	ctx := context.Background()
	seen := map[string]int{}
	opts := store.ListOptions{Limit: 1}
	for i := 0; ; i++ {
		page, err := stores[i%2].List(ctx, opts)
		if err != nil {
			t.Fatalf("page %d at store %d: %v", i+1, i%2, err)
		}
		for _, tok := range page.Tokens {
			seen[tok.Hash]++
		}
		if page.Cursor == "" {
			break
		}
		opts.Cursor = page.Cursor
	}
	for _, tok := range toks {
		if seen[tok.Hash] != 1 {
			t.Errorf("token %s listed %d times across the two stores, want once", tok.UUID, seen[tok.Hash])
		}
	}
	if len(seen) != len(toks) {
		t.Errorf("listed %d items, want %d", len(seen), len(toks))
	}
}

// TestCursorKeyCreatedOnce: ten instances starting together on a table
// without a key agree on one key: exactly one PutItem of the key item
// succeeds, and every instance opens every other's cursors.
func TestCursorKeyCreatedOnce(t *testing.T) {
	client, table, _ := cursorTable(t, 2)
	var tries, wins atomic.Int32
	const n = 10
	stores := make([]*dynamotest.Store, n)
	for i := range stores {
		stores[i] = dynamotest.New(keyPuts{API: client, tries: &tries, wins: &wins}, table)
	}
	cursors := make([]string, n)
	errs := make([]error, n)
	ready := make(chan struct{})
	var wg sync.WaitGroup
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready
			page, err := stores[i].List(context.Background(), store.ListOptions{Limit: 1})
			cursors[i], errs[i] = page.Cursor, err
		}()
	}
	close(ready)
	wg.Wait()
	for i, err := range errs {
		if err != nil || cursors[i] == "" {
			t.Fatalf("store %d: List = cursor %q, %v", i, cursors[i], err)
		}
	}
	if w := wins.Load(); w != 1 {
		t.Errorf("%d PutItem calls of the key item succeeded (of %d), want exactly 1", w, tries.Load())
	}
	t.Logf("%d instances: %d PutItem attempts on the key item", n, tries.Load())
	for i, c := range cursors {
		for j, s := range stores {
			if _, err := s.List(context.Background(), store.ListOptions{Limit: 1, Cursor: c}); err != nil {
				t.Errorf("store %d refused the cursor of store %d: %v", j, i, err)
			}
		}
	}
}

// TestCursorKeyReused: the key item outlives the Store that made it. A new
// Store (a restarted instance) reads it with one GetItem, writes nothing,
// and accepts the cursors issued before; CreateTable still accepts the table.
// Listing costs one GetItem more only at a Store's first cursor, and none
// when no cursor is issued or read.
func TestCursorKeyReused(t *testing.T) {
	client, table, _ := cursorTable(t, 3)
	ctx := context.Background()
	c := dynamotest.NewCounting(client)
	delta := func(f func()) map[string]int {
		before := c.Counts()
		f()
		d := map[string]int{}
		for op, n := range c.Counts() {
			if n != before[op] {
				d[op] = n - before[op]
			}
		}
		return d
	}
	first := dynamotest.New(c, table)
	if d := delta(func() {
		if page, err := first.List(ctx, store.ListOptions{Limit: 1000}); err != nil || page.Cursor != "" {
			t.Fatalf("List(Limit: 1000) = %+v, %v", page, err)
		}
	}); d["GetItem"] != 0 || d["PutItem"] != 0 {
		t.Errorf("a listing without a cursor made %v; want no key read or write", d)
	}
	var cur string
	if d := delta(func() { cur = firstCursor(t, first, store.ListOptions{Limit: 1}) }); d["GetItem"] != 1 || d["PutItem"] != 1 {
		t.Errorf("the first cursor of a new table made %v; want 1 GetItem (absent) and 1 PutItem (created)", d)
	}
	if d := delta(func() { firstCursor(t, first, store.ListOptions{Limit: 1, Cursor: cur}) }); d["GetItem"] != 0 || d["PutItem"] != 0 {
		t.Errorf("a later cursor of the same Store made %v; want the cached key", d)
	}

	if err := dynamostore.CreateTable(ctx, client, table); err != nil {
		t.Fatalf("CreateTable with the key item in the table: %v", err)
	}
	restarted := dynamotest.New(c, table)
	if d := delta(func() {
		if _, err := restarted.List(ctx, store.ListOptions{Limit: 1, Cursor: cur}); err != nil {
			t.Fatalf("a new Store refused a cursor issued before it: %v", err)
		}
	}); d["GetItem"] != 1 || d["PutItem"] != 0 {
		t.Errorf("a new Store's first cursor made %v; want 1 GetItem and no PutItem", d)
	}
}

// TestCursorKeyDeleted: deleting the key item by hand only invalidates
// outstanding cursors (a 400 for the client, not a 503); the next instance
// makes a new key and listings work again.
func TestCursorKeyDeleted(t *testing.T) {
	client, table, _ := cursorTable(t, 3)
	ctx := context.Background()
	old := firstCursor(t, dynamotest.New(client, table), store.ListOptions{Limit: 1})
	if _, err := client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(table),
		Key:       map[string]types.AttributeValue{schema.AttrToken: &types.AttributeValueMemberS{Value: schema.CursorKeyItem}},
	}); err != nil {
		t.Fatal(err)
	}
	s := dynamotest.New(client, table)
	if _, err := s.List(ctx, store.ListOptions{Limit: 1, Cursor: old}); !errors.Is(err, store.ErrBadCursor) {
		t.Errorf("cursor under the deleted key: %v, want ErrBadCursor", err)
	}
	fresh := firstCursor(t, s, store.ListOptions{Limit: 1})
	if _, err := dynamotest.New(client, table).List(ctx, store.ListOptions{Limit: 1, Cursor: fresh}); err != nil {
		t.Errorf("cursor under the new key at another Store: %v", err)
	}
}

// TestCursorKeyMalformed: a key item that holds no valid key (written by
// hand) is an infrastructure error, not a bad cursor, and not silently
// replaced. What can be refused without the key still is.
func TestCursorKeyMalformed(t *testing.T) {
	client, table, _ := cursorTable(t, 3)
	ctx := context.Background()
	putRaw(t, client, table, map[string]types.AttributeValue{
		schema.AttrToken:     &types.AttributeValueMemberS{Value: schema.CursorKeyItem},
		schema.AttrCursorKey: &types.AttributeValueMemberS{Value: "not a key"},
	})
	s := dynamotest.New(client, table)
	sealed := otherSealer(t).Seal([]byte(`{}`), cursorseal.Listing("all", ""))
	for name, opts := range map[string]store.ListOptions{
		"issuing a cursor": {Limit: 1},
		"reading a cursor": {Limit: 1, Cursor: sealed},
	} {
		_, err := s.List(ctx, opts)
		if err == nil || errors.Is(err, store.ErrBadCursor) {
			t.Errorf("%s with a malformed key item: %v; want an error that is not ErrBadCursor", name, err)
		}
	}
	if _, err := s.List(ctx, store.ListOptions{Limit: 1, Cursor: "!!"}); !errors.Is(err, store.ErrBadCursor) {
		t.Errorf("garbage cursor: %v, want ErrBadCursor", err)
	}
	if page, err := s.List(ctx, store.ListOptions{Limit: 10}); err != nil || len(page.Tokens) != 3 {
		t.Errorf("a listing without cursors = %d tokens, %v; want 3", len(page.Tokens), err)
	}
}

// TestEveryReservedPrefixHidden: the Scans of List and GetLegacy exclude
// every reserved prefix, not only the key item this store writes.
func TestEveryReservedPrefixHidden(t *testing.T) {
	client, table, toks := cursorTable(t, 2)
	ctx := context.Background()
	other := "CONFIG#something-later"
	putRaw(t, client, table, map[string]types.AttributeValue{schema.AttrToken: &types.AttributeValueMemberS{Value: other}})
	s := dynamotest.New(client, table)
	if _, err := s.GetLegacy(ctx, secret.LegacyID(other)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetLegacy(id of %s): %v, want ErrNotFound", other, err)
	}
	if _, err := s.GetByHash(ctx, other); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetByHash(%s): %v, want ErrNotFound", other, err)
	}
	for _, limit := range []int{1, 10} {
		opts := store.ListOptions{Limit: limit}
		n := 0
		for {
			page, err := s.List(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, tok := range page.Tokens {
				if schema.IsReservedKey(tok.Hash) {
					t.Errorf("limit %d: listed the reserved item %s", limit, tok.Hash)
				}
				n++
			}
			if page.Cursor == "" {
				break
			}
			opts.Cursor = page.Cursor
		}
		if n != len(toks) {
			t.Errorf("limit %d: listed %d items, want %d", limit, n, len(toks))
		}
	}
}

// TestUnreachableCursorKey: with DynamoDB gone, a listing that needs the
// cursor key fails with an error that is no sentinel (the service answers
// 503): an outage must not look like the client's bad cursor.
func TestUnreachableCursorKey(t *testing.T) {
	client, err := dynamolocal.NewClient(context.Background(), "http://127.0.0.1:1", func(o *dynamodb.Options) {
		o.RetryMaxAttempts = 1
		o.HTTPClient = &http.Client{Timeout: 2 * time.Second}
	})
	if err != nil {
		t.Fatal(err)
	}
	s := dynamotest.New(client, "missing")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sealer := otherSealer(t)
	for name, opts := range map[string]store.ListOptions{
		"all":  {Limit: 10, Cursor: sealer.Seal([]byte(`{"m":"all","s":1}`), cursorseal.Listing("all", ""))},
		"user": {Limit: 10, Username: "alice", Cursor: sealer.Seal([]byte(`{"m":"user","u":"alice","s":1}`), cursorseal.Listing("user", "alice"))},
	} {
		_, err := s.List(ctx, opts)
		if err == nil {
			t.Fatalf("%s: List succeeded against an unreachable endpoint", name)
		}
		for _, sentinel := range []error{store.ErrNotFound, store.ErrSlotTaken, store.ErrExists, store.ErrBadCursor} {
			if errors.Is(err, sentinel) {
				t.Errorf("%s: error %v matches %v; an outage must not look like an answer", name, err, sentinel)
			}
		}
	}
}

func otherSealer(t *testing.T) *cursorseal.Sealer {
	t.Helper()
	s, err := cursorseal.New(cursorseal.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	return s
}
