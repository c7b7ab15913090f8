// Package dynamostore is the DynamoDB implementation of store.Store, on the
// table that pkg/schema defines (created by the CDK app in AWS, by
// CreateTable locally).
//
// How the contract maps onto DynamoDB:
//
//   - One non-system token per user: Create writes the token item and the
//     user's guard item (schema.GuardKey) in one TransactWriteItems, each
//     with attribute_not_exists(token). Delete removes both in one
//     transaction. System tokens are a single conditional PutItem.
//   - GetByHash is one strongly consistent GetItem; GetByUUID one Query of
//     tokenUUID-index by key (never a scan, never Limit with a filter).
//   - Guard items carry only token and guardFor, so they are in neither
//     index; scans filter them out by their key prefix.
//   - Reserved items (schema.IsReservedKey: guard items, and configuration
//     items such as the cursor key at schema.CursorKeyItem) are never a
//     token: GetByHash answers ErrNotFound without a read, scans filter every
//     reserved prefix out, Delete, Create and PutLegacy refuse the keys.
//   - List cursors are sealed (see cursor in list.go) with a key kept in the
//     table itself, so every Lambda instance shares it without other
//     infrastructure.
//   - Errors: the store sentinels for the outcomes the contract names;
//     everything else (network, throttling, a missing table) is wrapped as
//     "dynamostore: <op>: ..." and callers treat it as an infrastructure
//     failure. No error text contains a secret or a legacy item's key.
//
// Consistency notes: global secondary indexes are eventually consistent, so
// GetByUUID and List by username may miss a token created a moment ago in
// real DynamoDB (DynamoDB Local is immediate). GetByHash, Create, Delete and
// List of all tokens read the table itself with strong consistency.
package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/llmgw/apitokens/pkg/schema"
	"github.com/llmgw/apitokens/pkg/secret"
	"github.com/llmgw/apitokens/pkg/store"
	"github.com/llmgw/apitokens/pkg/store/dynamostore/internal/item"
	"github.com/llmgw/apitokens/pkg/store/internal/cursorseal"
)

// API is the part of the DynamoDB client the store uses. *dynamodb.Client
// implements it. It is an interface so that tests can wrap the real client:
// Counting counts the calls by operation (to prove that a cached authorizer
// does not read, or that a listing crossed DynamoDB pages); a test may also
// embed API in its own type to inspect or fail particular calls.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// Store is a store.Store on one DynamoDB token table and, for the audit
// trail, one audit table (WithAudit). It is safe for concurrent use; its
// only mutable state is the cursor key, loaded once (cursorkey.go).
type Store struct {
	api   API // bounded: every request has a deadline
	table string
	// audit is the audit table ("" = none: a change that comes with
	// events fails, and Events fails); retention how long its items are
	// kept (the TTL attribute).
	audit     string
	retention time.Duration

	keyMu  sync.Mutex
	sealer *cursorseal.Sealer // nil until the cursor key is loaded
}

var _ store.Store = (*Store)(nil)

// New returns a Store for the table tableName (see schema.TableName).
// Every request it makes through api is bounded by RequestTimeout.
func New(api API, tableName string, opts ...Option) *Store {
	return NewWithTimeout(api, tableName, RequestTimeout, opts...)
}

// NewWithTimeout is New with another bound per request (tests).
func NewWithTimeout(api API, tableName string, d time.Duration, opts ...Option) *Store {
	s := &Store{api: bounded{API: api, d: d}, table: tableName, retention: DefaultAuditRetention}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Option configures a Store.
type Option func(*Store)

// DefaultAuditRetention is how long audit items are kept when WithAudit
// is given no positive retention.
const DefaultAuditRetention = 365 * 24 * time.Hour

// WithAudit names the audit table (schema.AuditTableName; created by
// CreateAuditTable locally) and how long its events are kept: each item's
// expiresAt, the table's TTL attribute, is its time plus retention
// (DefaultAuditRetention if retention is not positive). Without it the
// store fails closed: any change passed with events is refused, nothing
// written, and Events is an error. Changes without events still work.
func WithAudit(tableName string, retention time.Duration) Option {
	return func(s *Store) {
		s.audit = tableName
		if retention > 0 {
			s.retention = retention
		} else {
			s.retention = DefaultAuditRetention
		}
	}
}

// Expression placeholders. "token" and "name" are DynamoDB reserved words,
// so every attribute is referenced through a name placeholder.
const (
	phToken    = "#tk"
	phUUID     = "#uuid"
	phUsername = "#user"
	phGuardFor = "#gf"
	phSystem   = "#sys"
)

// Cancellation reason codes of TransactionCanceledException that this store
// acts on.
const (
	codeConditionFailed = "ConditionalCheckFailed"
	codeConflict        = "TransactionConflict"
)

// transactAttempts bounds the retries of a transaction that DynamoDB
// cancelled only because another transaction touched the same items (many
// concurrent creates for one user do this). The SDK does not retry those.
const transactAttempts = 8

// Create implements store.Store.
//
// Duplicate UUIDs: DynamoDB cannot make a GSI attribute unique. Create
// therefore first queries tokenUUID-index for t.UUID (one extra read) and
// returns ErrExists on a hit. That catches a caller reusing a UUID; two
// concurrent creates of the same UUID could both pass it, which needs a
// random UUIDv4 collision (about 2^-122) and is accepted.
//
// A system token is one PutItem. If the SDK retries it after a lost
// response to a write that succeeded, the retry reports ErrExists; the item
// then exists but its secret was never shown, so it is unusable and harmless.
// Non-system creates are transactions, which the SDK retries idempotently.
//
// With audit events the change and the events are one TransactWriteItems
// across both tables (a system token's create then is a transaction too).
func (s *Store) Create(ctx context.Context, t store.Token, audit ...store.Event) error {
	if err := store.Storable(t); err != nil {
		return fmt.Errorf("dynamostore: create: %w", err)
	}
	events, err := s.eventPuts(audit)
	if err != nil {
		return fmt.Errorf("dynamostore: create: %w", err)
	}
	if n, err := s.countUUID(ctx, t.UUID); err != nil {
		return fmt.Errorf("dynamostore: create: check tokenUUID: %w", err)
	} else if n > 0 {
		return fmt.Errorf("dynamostore: create: tokenUUID %s: %w", t.UUID, store.ErrExists)
	}
	notExists := aws.String("attribute_not_exists(" + phToken + ")")
	names := map[string]string{phToken: schema.AttrToken}

	if t.IsSystem && len(events) > 0 {
		codes, err := s.transact(ctx, append([]types.TransactWriteItem{{Put: &types.Put{
			TableName: aws.String(s.table), Item: item.Encode(t),
			ConditionExpression: notExists, ExpressionAttributeNames: names,
		}}}, events...))
		switch {
		case err == nil:
			return nil
		case failed(codes, 0):
			return fmt.Errorf("dynamostore: create %s: %w", t.UUID, store.ErrExists)
		default:
			return fmt.Errorf("dynamostore: create %s: %w", t.UUID, err)
		}
	}
	if t.IsSystem {
		_, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:                aws.String(s.table),
			Item:                     item.Encode(t),
			ConditionExpression:      notExists,
			ExpressionAttributeNames: names,
		})
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return fmt.Errorf("dynamostore: create %s: %w", t.UUID, store.ErrExists)
		}
		if err != nil {
			return fmt.Errorf("dynamostore: create %s: %w", t.UUID, err)
		}
		return nil
	}

	items := []types.TransactWriteItem{
		{Put: &types.Put{
			TableName: aws.String(s.table), Item: item.Encode(t),
			ConditionExpression: notExists, ExpressionAttributeNames: names,
		}},
		{Put: &types.Put{
			TableName: aws.String(s.table), Item: item.Guard(t.Username, t.UUID, t.Hash),
			ConditionExpression: notExists, ExpressionAttributeNames: names,
		}},
	}
	items = append(items, events...)
	codes, err := s.transact(ctx, items)
	if failed(codes, 1) && !failed(codes, 0) {
		// The slot is taken. If its guard names a token that no longer
		// exists (removed by hand with the AWS CLI),
		// the slot would stay taken for good: reclaim it and try once more.
		reclaimed, rerr := s.reclaimStaleGuard(ctx, t.Username)
		if rerr != nil {
			return fmt.Errorf("dynamostore: create %s: %w", t.UUID, rerr)
		}
		if reclaimed {
			codes, err = s.transact(ctx, items)
		}
	}
	switch {
	case err == nil:
		return nil
	case failed(codes, 0):
		// The hash is taken. Reported before a taken slot: it is the more
		// specific fault (most likely the same create sent twice).
		return fmt.Errorf("dynamostore: create %s: %w", t.UUID, store.ErrExists)
	case failed(codes, 1):
		return fmt.Errorf("dynamostore: create %s: %w", t.UUID, store.ErrSlotTaken)
	default:
		return fmt.Errorf("dynamostore: create %s: %w", t.UUID, err)
	}
}

// reclaimStaleGuard deletes username's guard item if the token it names is
// gone. Both reads are strongly consistent, and a create writes token and
// guard in one transaction, so "guard present, token absent" can only mean
// the token item was removed outside this store. The delete is conditional
// on the guard still naming that token, so a guard written meanwhile by a
// concurrent create is never removed. Guards written before guardHash
// existed are left alone (nothing proves them stale).
func (s *Store) reclaimStaleGuard(ctx context.Context, username string) (bool, error) {
	key := map[string]types.AttributeValue{schema.AttrToken: item.S(schema.GuardKey(username))}
	g, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return false, fmt.Errorf("read guard: %w", err)
	}
	h, ok := g.Item[schema.AttrGuardHash].(*types.AttributeValueMemberS)
	if !ok || h.Value == "" {
		return false, nil
	}
	tok, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{schema.AttrToken: item.S(h.Value)},
	})
	if err != nil {
		return false, fmt.Errorf("read guarded token: %w", err)
	}
	if len(tok.Item) != 0 {
		return false, nil // the slot is genuinely taken
	}
	_, err = s.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.table), Key: key,
		ConditionExpression:       aws.String("#gh = :h"),
		ExpressionAttributeNames:  map[string]string{"#gh": schema.AttrGuardHash},
		ExpressionAttributeValues: map[string]types.AttributeValue{":h": item.S(h.Value)},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return true, nil // someone else changed the guard; the retry will tell
	}
	if err != nil {
		return false, fmt.Errorf("delete stale guard: %w", err)
	}
	return true, nil
}

// countUUID counts the items in tokenUUID-index with that UUID.
func (s *Store) countUUID(ctx context.Context, uuid string) (int32, error) {
	out, err := s.api.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(schema.IndexTokenUUID),
		KeyConditionExpression:    aws.String(phUUID + " = :u"),
		ExpressionAttributeNames:  map[string]string{phUUID: schema.AttrTokenUUID},
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": item.S(uuid)},
		Select:                    types.SelectCount,
	})
	if err != nil {
		return 0, err
	}
	return out.Count, nil
}

// GetByHash implements store.Store with one GetItem, ConsistentRead=true.
// A reserved key (guard or configuration item) is answered with ErrNotFound
// without a read.
func (s *Store) GetByHash(ctx context.Context, hash string) (store.Token, error) {
	if hash == "" || schema.IsReservedKey(hash) {
		return store.Token{}, fmt.Errorf("dynamostore: get by hash: %w", store.ErrNotFound)
	}
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            map[string]types.AttributeValue{schema.AttrToken: item.S(hash)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return store.Token{}, fmt.Errorf("dynamostore: get by hash: %w", err)
	}
	if len(out.Item) == 0 {
		return store.Token{}, fmt.Errorf("dynamostore: get by hash: %w", store.ErrNotFound)
	}
	return item.Decode(out.Item)
}

// GetByUUID implements store.Store: a Query of tokenUUID-index by its key,
// following LastEvaluatedKey (a response is cut at 1 MB, not at a match).
// Two items with one UUID would make Delete ambiguous, so that is an error,
// not a guess.
func (s *Store) GetByUUID(ctx context.Context, uuid string) (store.Token, error) {
	if uuid == "" {
		return store.Token{}, fmt.Errorf("dynamostore: get by uuid: %w", store.ErrNotFound)
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(schema.IndexTokenUUID),
		KeyConditionExpression:    aws.String(phUUID + " = :u"),
		ExpressionAttributeNames:  map[string]string{phUUID: schema.AttrTokenUUID},
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": item.S(uuid)},
	}
	var items []map[string]types.AttributeValue
	for {
		out, err := s.api.Query(ctx, in)
		if err != nil {
			return store.Token{}, fmt.Errorf("dynamostore: get by uuid %s: %w", uuid, err)
		}
		items = append(items, out.Items...)
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	switch len(items) {
	case 0:
		return store.Token{}, fmt.Errorf("dynamostore: get by uuid %s: %w", uuid, store.ErrNotFound)
	case 1:
		return item.Decode(items[0])
	default:
		return store.Token{}, fmt.Errorf("dynamostore: get by uuid %s: %d items share this tokenUUID", uuid, len(items))
	}
}

// GetLegacy implements store.Store. Legacy items have no index, so this
// scans the table (strongly consistent, every page) for items without
// tokenUUID, skipping reserved items (which have no tokenUUID either), and
// compares secret.LegacyID of each key.
// Only admins reach it, and tables hold few enough items for that.
func (s *Store) GetLegacy(ctx context.Context, id string) (store.Token, error) {
	if !strings.HasPrefix(id, secret.LegacyPrefix) {
		return store.Token{}, fmt.Errorf("dynamostore: get legacy: %w", store.ErrNotFound)
	}
	notReserved, values := notReservedFilter()
	in := &dynamodb.ScanInput{
		TableName:                 aws.String(s.table),
		ConsistentRead:            aws.Bool(true),
		FilterExpression:          aws.String("attribute_not_exists(" + phUUID + ") AND " + notReserved),
		ExpressionAttributeNames:  map[string]string{phUUID: schema.AttrTokenUUID, phToken: schema.AttrToken},
		ExpressionAttributeValues: values,
	}
	for {
		out, err := s.api.Scan(ctx, in)
		if err != nil {
			return store.Token{}, fmt.Errorf("dynamostore: get legacy %s: %w", id, err)
		}
		for _, it := range out.Items {
			k, ok := it[schema.AttrToken].(*types.AttributeValueMemberS)
			if ok && !schema.IsReservedKey(k.Value) && secret.LegacyID(k.Value) == id {
				return item.Decode(it)
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return store.Token{}, fmt.Errorf("dynamostore: get legacy %s: %w", id, store.ErrNotFound)
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// Delete implements store.Store. The item is removed only if it is still the
// token t describes: same Hash and, for a token, same UUID (a system token
// must also still be a system token; a legacy item must still be legacy).
// Anything else is ErrNotFound, so a stale or mismatched Token can never
// delete another token or free another token's slot.
//
// For a non-system token the guard item is deleted in the same transaction,
// on the condition that it is absent or reserves this very token
// (guardFor = t.UUID). It may be absent for tokens written before guard
// items existed; it may reserve another token when such an old token is
// deleted while the user also holds a new one. In that last case the
// transaction is cancelled and the token item alone is deleted, leaving the
// other token's reservation in place.
//
// A guard whose token item was removed by hand (aws dynamodb delete-item)
// keeps the user's slot taken until the guard item (key "USER#<username>")
// is deleted too; the store never frees a slot it cannot prove is stale.
//
// A rotated token (RotatedTo set) no longer holds the slot: only its item
// is deleted, the guard (now the new token's) is not touched. With audit
// events every delete is a transaction that also writes them.
func (s *Store) Delete(ctx context.Context, t store.Token, audit ...store.Event) error {
	events, err := s.eventPuts(audit)
	if err != nil {
		return fmt.Errorf("dynamostore: delete: %w", err)
	}
	if t.Hash == "" || schema.IsReservedKey(t.Hash) {
		return fmt.Errorf("dynamostore: delete: %w", store.ErrNotFound)
	}
	ref := t.UUID
	key := map[string]types.AttributeValue{schema.AttrToken: item.S(t.Hash)}
	// DynamoDB rejects unused placeholders, so each condition brings
	// exactly its own names and values.
	var (
		cond   string
		names  map[string]string
		values map[string]types.AttributeValue
	)
	switch {
	case t.Legacy:
		ref = secret.LegacyID(t.Hash)
		cond = "attribute_exists(" + phToken + ") AND attribute_not_exists(" + phUUID + ")"
		names = map[string]string{phToken: schema.AttrToken, phUUID: schema.AttrTokenUUID}
	case t.UUID == "":
		return fmt.Errorf("dynamostore: delete: %w", store.ErrNotFound)
	case t.IsSystem:
		cond = phUUID + " = :uuid AND " + phSystem + " = :true"
		names = map[string]string{phUUID: schema.AttrTokenUUID, phSystem: schema.AttrIsSystemToken}
		values = map[string]types.AttributeValue{":uuid": item.S(t.UUID), ":true": &types.AttributeValueMemberBOOL{Value: true}}
	default:
		cond = phUUID + " = :uuid"
		names = map[string]string{phUUID: schema.AttrTokenUUID}
		values = map[string]types.AttributeValue{":uuid": item.S(t.UUID)}
	}
	deleteOne := func() error {
		if len(events) > 0 {
			codes, err := s.transact(ctx, append([]types.TransactWriteItem{{Delete: &types.Delete{
				TableName: aws.String(s.table), Key: key,
				ConditionExpression:       aws.String(cond),
				ExpressionAttributeNames:  names,
				ExpressionAttributeValues: values,
			}}}, events...))
			switch {
			case err == nil:
				return nil
			case failed(codes, 0):
				return fmt.Errorf("dynamostore: delete %s: %w", ref, store.ErrNotFound)
			default:
				return fmt.Errorf("dynamostore: delete %s: %w", ref, err)
			}
		}
		_, err := s.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: aws.String(s.table), Key: key,
			ConditionExpression:       aws.String(cond),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		})
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return fmt.Errorf("dynamostore: delete %s: %w", ref, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("dynamostore: delete %s: %w", ref, err)
		}
		return nil
	}
	if t.Legacy || t.IsSystem || t.Username == "" || t.RotatedTo != "" {
		return deleteOne()
	}

	codes, err := s.transact(ctx, append([]types.TransactWriteItem{
		{Delete: &types.Delete{
			TableName: aws.String(s.table), Key: key,
			ConditionExpression:       aws.String(cond),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		}},
		{Delete: &types.Delete{
			TableName:                 aws.String(s.table),
			Key:                       map[string]types.AttributeValue{schema.AttrToken: item.S(schema.GuardKey(t.Username))},
			ConditionExpression:       aws.String("attribute_not_exists(" + phToken + ") OR " + phGuardFor + " = :uuid"),
			ExpressionAttributeNames:  map[string]string{phToken: schema.AttrToken, phGuardFor: schema.AttrGuardFor},
			ExpressionAttributeValues: map[string]types.AttributeValue{":uuid": item.S(t.UUID)},
		}},
	}, events...))
	switch {
	case err == nil:
		return nil
	case failed(codes, 0):
		return fmt.Errorf("dynamostore: delete %s: %w", ref, store.ErrNotFound)
	case failed(codes, 1):
		// The guard reserves another token: delete this one alone.
		return deleteOne()
	default:
		return fmt.Errorf("dynamostore: delete %s: %w", ref, err)
	}
}

// transact runs a write transaction. When DynamoDB cancels it only because
// of a conflict with another in-flight transaction (or throttling), it is
// retried with jittered backoff; a failed condition is final. On
// cancellation it returns the reason codes, by position in items.
func (s *Store) transact(ctx context.Context, items []types.TransactWriteItem) ([]string, error) {
	backoff := 10 * time.Millisecond
	for attempt := 1; ; attempt++ {
		_, err := s.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return nil, nil
		}
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			return nil, err
		}
		codes := make([]string, len(tce.CancellationReasons))
		final, transient := false, false
		for i, r := range tce.CancellationReasons {
			codes[i] = aws.ToString(r.Code)
			switch codes[i] {
			case codeConditionFailed:
				final = true
			case codeConflict, "ThrottlingError", "ProvisionedThroughputExceeded":
				transient = true
			}
		}
		if final || !transient || attempt == transactAttempts {
			return codes, err
		}
		sleep := backoff/2 + rand.N(backoff) // jitter spreads the retrying crowd
		select {
		case <-ctx.Done():
			return codes, errors.Join(err, ctx.Err())
		case <-time.After(sleep):
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

// notReservedFilter is a filter condition, on the phToken placeholder, that
// excludes every reserved item (each prefix of schema.ReservedPrefixes), and
// the values it uses.
func notReservedFilter() (string, map[string]types.AttributeValue) {
	var conds []string
	values := map[string]types.AttributeValue{}
	for i, p := range schema.ReservedPrefixes() {
		ph := fmt.Sprintf(":reserved%d", i)
		conds = append(conds, "NOT begins_with("+phToken+", "+ph+")")
		values[ph] = item.S(p)
	}
	return strings.Join(conds, " AND "), values
}

// failed reports whether the transaction item at index i failed its
// condition.
func failed(codes []string, i int) bool { return i < len(codes) && codes[i] == codeConditionFailed }
