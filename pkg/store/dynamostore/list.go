package dynamostore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/llmgw/apitokens/pkg/schema"
	"github.com/llmgw/apitokens/pkg/store"
	"github.com/llmgw/apitokens/pkg/store/dynamostore/internal/item"
	"github.com/llmgw/apitokens/pkg/store/internal/cursorseal"
)

// Bounds of List.
const (
	maxLimit     = 1000        // store.ListOptions: Limit is 1..1000
	maxCursorLen = 8192        // longer input is not a cursor this store issued (see cursor)
	maxSkip      = 1 << 20     // far above any run of legacy items
	maxRequest   = int32(2000) // items one Scan/Query may evaluate
)

const (
	modeAll  = "all"
	modeUser = "user"
)

// cursor is the opened form of a List cursor. A cursor is opaque to
// clients: this JSON sealed with AES-256-GCM (package cursorseal: base64url
// without padding of a version byte, a random nonce and the sealed JSON),
// with the listing (mode and username) as additional data, under the
// table's cursor key (cursorkey.go). So a cursor carries no table key: no
// token hash, no guard key, no username. One that was changed, forged, or
// issued for another listing does not open and is store.ErrBadCursor;
// DynamoDB never sees a start key that this store did not write.
//
// Key is the DynamoDB key to resume after (ExclusiveStartKey; every key
// attribute of this table is a string); absent means the start of the
// table. Skip then drops that many returned items.
//
// Why Skip exists: a legacy item's key is its plain-text secret. Even
// sealed, a cursor never holds one: when a page ends on legacy items, the
// cursor names the last non-legacy position before them (a token, a
// reserved item, or the start) and counts the legacy items already
// returned. On an unchanging table that is exact.
//
// Size: a key holds at most a 64-character hash and a username or guard
// key of at most 2048 bytes (DynamoDB's key limit; a user listing also has
// User), so an issued cursor stays below maxCursorLen unless a name is
// mostly characters that JSON escapes (the service caps usernames at 128
// characters).
type cursor struct {
	Mode string            `json:"m"`
	User string            `json:"u,omitempty"`
	Key  map[string]string `json:"k,omitempty"`
	Skip int               `json:"s,omitempty"`
}

// List implements store.Store.
//
// All tokens: a strongly consistent Scan that filters reserved items
// (guard and configuration items) out. By
// user: a Query of username-index. Either way List reads on across
// DynamoDB pages until it has opts.Limit items and has seen that at least
// one more exists, or the table ends; so a page is short only when it is the
// last, and the last page has no cursor. Each request asks DynamoDB to
// evaluate about what is still needed (see the sizing below), and when a
// page ends inside a DynamoDB response the cursor is built from the last
// returned item's key, so nothing is skipped or returned twice.
//
// Issuing or reading a cursor needs the cursor key: the first such List of
// a Store loads it (one more GetItem, see cursorkey.go). A failure there is
// an infrastructure error, not store.ErrBadCursor.
func (s *Store) List(ctx context.Context, opts store.ListOptions) (store.Page, error) {
	if opts.Limit < 1 || opts.Limit > maxLimit {
		return store.Page{}, fmt.Errorf("dynamostore: list: limit %d outside 1..%d", opts.Limit, maxLimit)
	}
	mode := modeAll
	if opts.Username != "" {
		mode = modeUser
	}
	var c cursor
	if opts.Cursor != "" {
		var err error
		if c, err = s.openCursor(ctx, opts.Cursor, mode, opts.Username); err != nil {
			return store.Page{}, fmt.Errorf("dynamostore: list: %w", err)
		}
	}

	pos := position{key: c.Key}
	skip := c.Skip
	var esk map[string]types.AttributeValue
	if c.Key != nil {
		esk = make(map[string]types.AttributeValue, len(c.Key))
		for k, v := range c.Key {
			esk[k] = item.S(v)
		}
	}
	out := []store.Token{}
	var scanned, returned int64 // so far in this call, to size the next request
	for {
		// Items still wanted: the rest of the page, one look-ahead item
		// and whatever the cursor says to skip. Reserved items are evaluated
		// (and paid for) but filtered out, so ask for more in proportion
		// to what earlier responses filtered; reading a little too far
		// costs less than another round trip, and the cursor stays exact
		// either way.
		need := int64(opts.Limit + 1 - len(out) + skip)
		if returned > 0 && scanned > returned {
			need = (need*scanned + returned - 1) / returned
		} else if scanned > 0 && returned == 0 {
			need *= 4
		}
		items, lek, n, err := s.listRequest(ctx, opts.Username, esk, int32(min(need, int64(maxRequest))))
		if err != nil {
			return store.Page{}, fmt.Errorf("dynamostore: list: %w", err)
		}
		scanned += int64(n)
		returned += int64(len(items))
		for _, it := range items {
			tok, err := item.Decode(it)
			if err != nil {
				return store.Page{}, fmt.Errorf("dynamostore: list: %w", err)
			}
			if skip > 0 {
				skip--
				pos.advance(tok, mode)
				continue
			}
			if len(out) == opts.Limit {
				// tok proves there is more; resume before it.
				cur, err := s.sealCursor(ctx, pos, mode, opts.Username)
				if err != nil {
					return store.Page{}, fmt.Errorf("dynamostore: list: %w", err)
				}
				return store.Page{Tokens: out, Cursor: cur}, nil
			}
			out = append(out, tok)
			pos.advance(tok, mode)
		}
		if len(lek) == 0 {
			return store.Page{Tokens: out}, nil
		}
		// The last evaluated item was filtered out, so it is a reserved
		// item: a safe place to resume from.
		if k, ok := lek[schema.AttrToken].(*types.AttributeValueMemberS); ok && mode == modeAll && schema.IsReservedKey(k.Value) {
			pos = position{key: map[string]string{schema.AttrToken: k.Value}}
		}
		esk = lek
	}
}

// listRequest is one Scan (all tokens) or one Query (a user's tokens). It
// returns the items, LastEvaluatedKey and how many items were evaluated.
func (s *Store) listRequest(ctx context.Context, username string, esk map[string]types.AttributeValue, limit int32) ([]map[string]types.AttributeValue, map[string]types.AttributeValue, int32, error) {
	if username == "" {
		notReserved, values := notReservedFilter()
		out, err := s.api.Scan(ctx, &dynamodb.ScanInput{
			TableName:                 aws.String(s.table),
			ConsistentRead:            aws.Bool(true),
			Limit:                     aws.Int32(limit),
			ExclusiveStartKey:         esk,
			FilterExpression:          aws.String(notReserved),
			ExpressionAttributeNames:  map[string]string{phToken: schema.AttrToken},
			ExpressionAttributeValues: values,
		})
		if err != nil {
			return nil, nil, 0, err
		}
		return out.Items, out.LastEvaluatedKey, out.ScannedCount, nil
	}
	out, err := s.api.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(schema.IndexUsername),
		KeyConditionExpression:    aws.String(phUsername + " = :u"),
		ExpressionAttributeNames:  map[string]string{phUsername: schema.AttrUsername},
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": item.S(username)},
		Limit:                     aws.Int32(limit),
		ExclusiveStartKey:         esk,
	})
	if err != nil {
		return nil, nil, 0, err
	}
	return out.Items, out.LastEvaluatedKey, out.ScannedCount, nil
}

// position is where a listing stands: after the item with key (nil: the
// start), plus since legacy items returned after it.
type position struct {
	key   map[string]string
	since int
}

// advance moves past tok. Only a non-legacy token becomes the new resume
// key; a legacy item is counted instead (see cursor).
func (p *position) advance(tok store.Token, mode string) {
	if tok.Legacy {
		p.since++
		return
	}
	p.key = map[string]string{schema.AttrToken: tok.Hash}
	if mode == modeUser {
		p.key[schema.AttrUsername] = tok.Username
	}
	p.since = 0
}

// encode is the cursor JSON (the plaintext that sealCursor seals).
func (p position) encode(mode, username string) []byte {
	b, err := json.Marshal(cursor{Mode: mode, User: username, Key: maps.Clone(p.key), Skip: p.since})
	if err != nil { // a struct of strings and an int always marshals
		panic(err)
	}
	return b
}

// sealCursor is the cursor a client gets for position p of the listing.
func (s *Store) sealCursor(ctx context.Context, p position, mode, username string) (string, error) {
	sealer, err := s.cursorSealer(ctx)
	if err != nil {
		return "", err
	}
	return sealer.Seal(p.encode(mode, username), cursorseal.Listing(mode, username)), nil
}

// openCursor opens a client's cursor for the listing of mode and username.
// Anything that is not a cursor this table's key sealed for this listing is
// store.ErrBadCursor; a failure to load the key is an error that is not.
// What can be refused without the key is refused before loading it.
func (s *Store) openCursor(ctx context.Context, str, mode, username string) (cursor, error) {
	sealed, err := cursorseal.Parse(str, maxCursorLen)
	if err != nil {
		return cursor{}, fmt.Errorf("%w: %v", store.ErrBadCursor, err)
	}
	sealer, err := s.cursorSealer(ctx)
	if err != nil {
		return cursor{}, err
	}
	raw, err := sealer.Open(sealed, cursorseal.Listing(mode, username))
	if err != nil {
		return cursor{}, fmt.Errorf("%w: %v", store.ErrBadCursor, err)
	}
	c, err := decodeCursor(raw, mode, username)
	if err != nil {
		return cursor{}, fmt.Errorf("%w: %v", store.ErrBadCursor, err)
	}
	return c, nil
}

// decodeCursor accepts only what List issues for this listing: the same
// mode and user, exactly the key attributes DynamoDB expects there (Scan:
// token; username-index: token and username, the username being the one
// listed), non-empty values, and a position that is not the start. Sealing
// already refuses anything List did not write; these checks keep a
// position that DynamoDB would refuse from ever reaching it.
func decodeCursor(raw []byte, mode, username string) (cursor, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var c cursor
	if err := dec.Decode(&c); err != nil {
		return cursor{}, errors.New("not a cursor object")
	}
	if dec.More() {
		return cursor{}, errors.New("trailing data")
	}
	if c.Mode != mode || c.User != username {
		return cursor{}, errors.New("issued for another listing")
	}
	if c.Skip < 0 || c.Skip > maxSkip {
		return cursor{}, errors.New("skip out of range")
	}
	if c.Key == nil {
		if c.Skip == 0 {
			return cursor{}, errors.New("empty position")
		}
		return c, nil
	}
	want := []string{schema.AttrToken}
	if mode == modeUser {
		want = append(want, schema.AttrUsername)
	}
	if len(c.Key) != len(want) {
		return cursor{}, errors.New("wrong key attributes")
	}
	for _, a := range want {
		if v, ok := c.Key[a]; !ok || v == "" || len(v) > 2048 {
			return cursor{}, errors.New("wrong key attributes")
		}
	}
	if mode == modeUser && c.Key[schema.AttrUsername] != username {
		return cursor{}, errors.New("issued for another user")
	}
	return c, nil
}
