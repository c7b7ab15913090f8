package dynamostore

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/llmgw/apitokens/pkg/schema"
	"github.com/llmgw/apitokens/pkg/store"
	"github.com/llmgw/apitokens/pkg/store/internal/cursorseal"
)

func TestCursorRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name, mode, user string
		pos              position
	}{
		{"all, after a token", modeAll, "", position{key: map[string]string{schema.AttrToken: strings.Repeat("a", 64)}}},
		{"all, after a guard item and legacy items", modeAll, "", position{key: map[string]string{schema.AttrToken: schema.GuardKey("bob")}, since: 2}},
		{"all, legacy items at the start", modeAll, "", position{since: 3}},
		{"user", modeUser, "alice", position{key: map[string]string{schema.AttrToken: strings.Repeat("b", 64), schema.AttrUsername: "alice"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.pos.encode(tc.mode, tc.user)
			c, err := decodeCursor(s, tc.mode, tc.user)
			if err != nil {
				t.Fatalf("decodeCursor(%s): %v", s, err)
			}
			if c.Skip != tc.pos.since || len(c.Key) != len(tc.pos.key) {
				t.Fatalf("decoded %+v, want key %v skip %d", c, tc.pos.key, tc.pos.since)
			}
			for k, v := range tc.pos.key {
				if c.Key[k] != v {
					t.Errorf("key[%s] = %q, want %q", k, c.Key[k], v)
				}
			}
		})
	}
}

func TestDecodeCursorRejects(t *testing.T) {
	hash := strings.Repeat("c", 64)
	js := func(s string) string { return s } // the JSON inside the seal
	for _, tc := range []struct {
		name, cursor, mode, user string
	}{
		{"not JSON", js("nope"), modeAll, ""},
		{"trailing data", js(`{"m":"all","k":{"token":"` + hash + `"}} {}`), modeAll, ""},
		{"unknown field", js(`{"m":"all","k":{"token":"` + hash + `"},"x":1}`), modeAll, ""},
		{"no mode", js(`{"k":{"token":"` + hash + `"}}`), modeAll, ""},
		{"wrong mode", js(`{"m":"user","u":"alice","k":{"token":"` + hash + `","username":"alice"}}`), modeAll, ""},
		{"user set in all mode", js(`{"m":"all","u":"alice","k":{"token":"` + hash + `"}}`), modeAll, ""},
		{"start position", js(`{"m":"all"}`), modeAll, ""},
		{"negative skip", js(`{"m":"all","s":-1}`), modeAll, ""},
		{"huge skip", js(`{"m":"all","s":100000000}`), modeAll, ""},
		{"fractional skip", js(`{"m":"all","s":1.5}`), modeAll, ""},
		{"scan key with username", js(`{"m":"all","k":{"token":"` + hash + `","username":"alice"}}`), modeAll, ""},
		{"scan key without token", js(`{"m":"all","k":{"tokenUUID":"x"}}`), modeAll, ""},
		{"empty key value", js(`{"m":"all","k":{"token":""}}`), modeAll, ""},
		{"empty key map", js(`{"m":"all","k":{}}`), modeAll, ""},
		{"non-string key value", js(`{"m":"all","k":{"token":5}}`), modeAll, ""},
		{"index key without username", js(`{"m":"user","u":"alice","k":{"token":"` + hash + `"}}`), modeUser, "alice"},
		{"index key of another user", js(`{"m":"user","u":"alice","k":{"token":"` + hash + `","username":"bob"}}`), modeUser, "alice"},
		{"cursor of another user", js(`{"m":"user","u":"bob","k":{"token":"` + hash + `","username":"bob"}}`), modeUser, "alice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if c, err := decodeCursor([]byte(tc.cursor), tc.mode, tc.user); err == nil {
				t.Errorf("decodeCursor accepted %q as %+v", tc.cursor, c)
			}
		})
	}
}

// TestOpenCursor: a cursor opens only with the table's key and for the
// listing it was sealed for; and a sealed JSON that names another listing
// than its seal does is refused too (both checks hold on their own).
func TestOpenCursor(t *testing.T) {
	sealer, err := cursorseal.New(cursorseal.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	s := &Store{sealer: sealer} // key already loaded: no DynamoDB call
	ctx := context.Background()
	hash := strings.Repeat("d", 64)
	allJSON := []byte(`{"m":"all","k":{"token":"` + hash + `"}}`)
	userJSON := []byte(`{"m":"user","u":"alice","k":{"token":"` + hash + `","username":"alice"}}`)

	good := sealer.Seal(allJSON, cursorseal.Listing(modeAll, ""))
	if c, err := s.openCursor(ctx, good, modeAll, ""); err != nil || c.Key[schema.AttrToken] != hash {
		t.Fatalf("openCursor(own cursor) = %+v, %v", c, err)
	}
	other, err := cursorseal.New(cursorseal.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, cursor, mode, user string
	}{
		{"all cursor on a user listing", good, modeUser, "alice"},
		{"user JSON sealed for all", sealer.Seal(userJSON, cursorseal.Listing(modeAll, "")), modeAll, ""},
		{"user JSON sealed for all, opened as user", sealer.Seal(userJSON, cursorseal.Listing(modeAll, "")), modeUser, "alice"},
		{"all JSON sealed for alice", sealer.Seal(allJSON, cursorseal.Listing(modeUser, "alice")), modeUser, "alice"},
		{"other key", other.Seal(allJSON, cursorseal.Listing(modeAll, "")), modeAll, ""},
		{"unsealed base64url JSON (the former format)", "eyJtIjoiYWxsIiwiayI6eyJ0b2tlbiI6IlVTRVIjYm9iIn19", modeAll, ""},
		{"too long", strings.Repeat("A", maxCursorLen+1), modeAll, ""},
		{"not base64", "***", modeAll, ""},
	} {
		if c, err := s.openCursor(ctx, tc.cursor, tc.mode, tc.user); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("%s: openCursor = %+v, %v; want ErrBadCursor", tc.name, c, err)
		}
	}
}
