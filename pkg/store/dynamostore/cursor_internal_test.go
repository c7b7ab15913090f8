package dynamostore

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/llmgw/apitokens/pkg/schema"
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
				t.Fatalf("decodeCursor(%q): %v", s, err)
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
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name, cursor, mode, user string
	}{
		{"not base64", "***", modeAll, ""},
		{"padded base64", base64.URLEncoding.EncodeToString([]byte(`{"m":"all","k":{"token":"` + hash + `"}}`)), modeAll, ""},
		{"not JSON", b64("nope"), modeAll, ""},
		{"trailing data", b64(`{"m":"all","k":{"token":"` + hash + `"}} {}`), modeAll, ""},
		{"unknown field", b64(`{"m":"all","k":{"token":"` + hash + `"},"x":1}`), modeAll, ""},
		{"no mode", b64(`{"k":{"token":"` + hash + `"}}`), modeAll, ""},
		{"wrong mode", b64(`{"m":"user","u":"alice","k":{"token":"` + hash + `","username":"alice"}}`), modeAll, ""},
		{"user set in all mode", b64(`{"m":"all","u":"alice","k":{"token":"` + hash + `"}}`), modeAll, ""},
		{"start position", b64(`{"m":"all"}`), modeAll, ""},
		{"negative skip", b64(`{"m":"all","s":-1}`), modeAll, ""},
		{"huge skip", b64(`{"m":"all","s":100000000}`), modeAll, ""},
		{"fractional skip", b64(`{"m":"all","s":1.5}`), modeAll, ""},
		{"scan key with username", b64(`{"m":"all","k":{"token":"` + hash + `","username":"alice"}}`), modeAll, ""},
		{"scan key without token", b64(`{"m":"all","k":{"tokenUUID":"x"}}`), modeAll, ""},
		{"empty key value", b64(`{"m":"all","k":{"token":""}}`), modeAll, ""},
		{"empty key map", b64(`{"m":"all","k":{}}`), modeAll, ""},
		{"non-string key value", b64(`{"m":"all","k":{"token":5}}`), modeAll, ""},
		{"index key without username", b64(`{"m":"user","u":"alice","k":{"token":"` + hash + `"}}`), modeUser, "alice"},
		{"index key of another user", b64(`{"m":"user","u":"alice","k":{"token":"` + hash + `","username":"bob"}}`), modeUser, "alice"},
		{"cursor of another user", b64(`{"m":"user","u":"bob","k":{"token":"` + hash + `","username":"bob"}}`), modeUser, "alice"},
		{"too long", strings.Repeat("A", maxCursorLen+1), modeAll, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if c, err := decodeCursor(tc.cursor, tc.mode, tc.user); err == nil {
				t.Errorf("decodeCursor accepted %q as %+v", tc.cursor, c)
			}
		})
	}
}
