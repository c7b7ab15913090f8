package dynamostore_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/llmgw/apitokens/pkg/local/dynamolocal/dltest"
	"github.com/llmgw/apitokens/pkg/schema"
	"github.com/llmgw/apitokens/pkg/secret"
	"github.com/llmgw/apitokens/pkg/store"
	"github.com/llmgw/apitokens/pkg/store/dynamostore"
	"github.com/llmgw/apitokens/pkg/store/dynamostore/dynamotest"
)

func auditToken(t *testing.T, user string, system bool) store.Token {
	sec, err := secret.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	return store.Token{Hash: secret.Hash(sec), UUID: uuid.NewString(), Username: user, CreatedBy: user,
		CreatedDate: now, Expiration: now + 3600, Name: "n", Groups: []string{"g"}, IsSystem: system}
}

func auditEvent(tok store.Token) store.Event {
	return store.Event{ID: uuid.NewString(), Time: time.Now().UnixMilli(), Action: store.ActionCreate,
		Actor: tok.Username, AuthType: "jwt", TokenUUID: tok.UUID, Username: tok.Username}
}

// TestAuditFailureFailsTheChange: when the events cannot be written (no
// audit table configured, the audit table missing, an event item over
// DynamoDB's size limit) the change fails and the token table is as before.
func TestAuditFailureFailsTheChange(t *testing.T) {
	client := dltest.Client(t)
	table := dltest.TokenTable(t, client)
	ctx := context.Background()
	good := dynamotest.New(client, table)
	kept := auditToken(t, "alice", false)
	if err := good.Create(ctx, kept); err != nil {
		t.Fatal(err)
	}
	huge := func(tok store.Token) store.Event {
		ev := auditEvent(tok)
		ev.Changes = []store.Change{{Field: "name", New: strings.Repeat("x", 410_000)}}
		return ev
	}
	for _, tc := range []struct {
		name  string
		s     *dynamostore.Store
		event func(store.Token) store.Event
	}{
		{"no audit table configured", dynamostore.NewWithTimeout(client, table, dynamotest.RequestTimeout), auditEvent},
		{"audit table missing", dynamostore.NewWithTimeout(client, table, dynamotest.RequestTimeout, dynamostore.WithAudit("missing-audit", 0)), auditEvent},
		{"event too large", good.Store, huge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, tok := range []store.Token{auditToken(t, "bob", false), auditToken(t, "bob", true)} {
				if err := tc.s.Create(ctx, tok, tc.event(tok)); err == nil {
					t.Errorf("Create (system=%v) succeeded", tok.IsSystem)
				}
				if _, err := good.GetByHash(ctx, tok.Hash); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("Create (system=%v) wrote the token: %v", tok.IsSystem, err)
				}
			}
			cur, err := good.GetByHash(ctx, kept.Hash)
			if err != nil {
				t.Fatal(err)
			}
			u := cur
			u.Name = "renamed"
			if err := tc.s.Update(ctx, cur, u, tc.event(cur)); err == nil {
				t.Error("Update succeeded")
			}
			if err := tc.s.Delete(ctx, cur, tc.event(cur)); err == nil {
				t.Error("Delete succeeded")
			}
			if err := tc.s.PutSettings(ctx, store.Settings{UpdatedBy: "mallory"}, tc.event(cur)); err == nil {
				t.Error("PutSettings succeeded")
			}
			if got, err := good.GetByHash(ctx, kept.Hash); err != nil || got.Name != cur.Name {
				t.Errorf("token after failed changes = %+v, %v", got, err)
			}
			if st, err := good.GetSettings(ctx); err != nil || st.UpdatedBy != "" {
				t.Errorf("settings after a failed PutSettings = %+v, %v", st, err)
			}
			// bob's slot is free.
			if err := good.Create(ctx, auditToken(t, "bob", false)); err != nil && !errors.Is(err, store.ErrSlotTaken) {
				t.Fatal(err)
			}
		})
	}
	page, err := good.Events(ctx, store.EventQuery{Limit: 100})
	if err != nil || len(page.Events) != 0 {
		t.Errorf("events after failed changes: %d, %v", len(page.Events), err)
	}
	if _, err := dynamostore.New(client, table).Events(ctx, store.EventQuery{Limit: 1}); err == nil {
		t.Error("Events without an audit table succeeded")
	}
}

// TestAuditItem: the stored item carries the month partition, the TTL
// (time + retention), and no username for a settings event (so that it is
// in no username-index partition).
func TestAuditItem(t *testing.T) {
	client := dltest.Client(t)
	table := dltest.TokenTable(t, client)
	ctx := context.Background()
	s := dynamotest.New(client, table, dynamostore.WithAudit(dynamotest.AuditTable(table), 48*time.Hour))
	ev := store.Event{ID: uuid.NewString(), Time: time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC).UnixMilli(),
		Action: store.ActionSettings, Actor: "admin", AuthType: "jwt", TokenUUID: store.SettingsSubject}
	if err := s.PutSettings(ctx, store.Settings{UpdatedBy: "admin"}, ev); err != nil {
		t.Fatal(err)
	}
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(dynamotest.AuditTable(table)), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{
			schema.AttrEventSubject: &types.AttributeValueMemberS{Value: store.SettingsSubject},
			schema.AttrEventKey:     &types.AttributeValueMemberS{Value: strconv.FormatInt(ev.Time, 10) + "#" + ev.ID},
		},
	})
	if err != nil || len(out.Item) == 0 {
		t.Fatalf("audit item: %v, %v", out, err)
	}
	if m, _ := out.Item[schema.AttrEventMonth].(*types.AttributeValueMemberS); m == nil || m.Value != "2026-12" {
		t.Errorf("month = %v", out.Item[schema.AttrEventMonth])
	}
	want := strconv.FormatInt(ev.Time/1000+48*3600, 10)
	if x, _ := out.Item[schema.AttrEventExpiresAt].(*types.AttributeValueMemberN); x == nil || x.Value != want {
		t.Errorf("expiresAt = %v, want %s", out.Item[schema.AttrEventExpiresAt], want)
	}
	for _, a := range []string{schema.AttrEventUsername, schema.AttrEventSourceIP, schema.AttrEventUserAgent} {
		if v, ok := out.Item[a]; ok {
			t.Errorf("empty %s stored as %v", a, v)
		}
	}
}
