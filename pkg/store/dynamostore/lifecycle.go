package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/llmgw/apitokens/pkg/schema"
	"github.com/llmgw/apitokens/pkg/store"
	"github.com/llmgw/apitokens/pkg/store/dynamostore/internal/item"
	"github.com/llmgw/apitokens/pkg/store/internal/change"
)

// eventPuts checks audit (store.Recordable) and returns one conditional
// Put per event into the audit table, for the transaction of the change
// they record. Events with no audit table configured are an error: a change
// whose trail cannot be written is not made. attribute_not_exists keeps an
// event id reused by mistake from overwriting another event.
func (s *Store) eventPuts(audit []store.Event) ([]types.TransactWriteItem, error) {
	if len(audit) == 0 {
		return nil, nil
	}
	if err := change.Recordable(audit); err != nil {
		return nil, err
	}
	if s.audit == "" {
		return nil, errors.New("no audit table configured (WithAudit): refusing a change whose audit events cannot be written")
	}
	out := make([]types.TransactWriteItem, len(audit))
	for i, ev := range audit {
		out[i] = types.TransactWriteItem{Put: &types.Put{
			TableName:                aws.String(s.audit),
			Item:                     item.EncodeEvent(ev, s.retention),
			ConditionExpression:      aws.String("attribute_not_exists(#ek)"),
			ExpressionAttributeNames: map[string]string{"#ek": schema.AttrEventKey},
		}}
	}
	return out, nil
}

// casUpdate is the conditional Update of old's item to the mutable fields
// of next (Name, Expiration, the Disabled fields, UpdatedAt, RotatedTo):
// SET what next holds, REMOVE what it holds as zero (item.Optional), on the
// condition that the item still has old's tokenUUID and old's value of
// every one of those fields. A zero value matches an absent attribute or
// the zero itself (items written by hand).
func casUpdate(table string, old, next store.Token) *types.Update {
	names := map[string]string{phUUID: schema.AttrTokenUUID}
	values := map[string]types.AttributeValue{":uuid": item.S(old.UUID)}
	conds := []string{phUUID + " = :uuid"}
	var sets, removes []string
	n := 0
	field := func(attr string, oldV, newV, zero types.AttributeValue) {
		n++
		ph := fmt.Sprintf("#f%d", n)
		names[ph] = attr
		if oldV == nil {
			values[fmt.Sprintf(":z%d", n)] = zero
			conds = append(conds, fmt.Sprintf("(attribute_not_exists(%s) OR %s = :z%d)", ph, ph, n))
		} else {
			values[fmt.Sprintf(":o%d", n)] = oldV
			conds = append(conds, fmt.Sprintf("%s = :o%d", ph, n))
		}
		if newV == nil {
			removes = append(removes, ph)
		} else {
			values[fmt.Sprintf(":n%d", n)] = newV
			sets = append(sets, fmt.Sprintf("%s = :n%d", ph, n))
		}
	}
	nonEmpty := func(v string) types.AttributeValue {
		if v == "" {
			return nil
		}
		return item.S(v)
	}
	// Name and tokenExpiration are always written (item.Encode), so an
	// empty name is stored as "" and matched as such.
	field(schema.AttrName, nonEmpty(old.Name), item.S(next.Name), item.S(""))
	field(schema.AttrTokenExpiration, item.N(old.Expiration), item.N(next.Expiration), nil)
	oldOpt, newOpt := item.Optional(old), item.Optional(next)
	for _, attr := range []struct {
		name string
		zero types.AttributeValue
	}{
		{schema.AttrDisabled, item.Bool(false)},
		{schema.AttrDisabledBy, item.S("")},
		{schema.AttrDisabledByAdmin, item.Bool(false)},
		{schema.AttrDisabledAt, item.N(0)},
		{schema.AttrUpdatedAt, item.N(0)},
		{schema.AttrRotatedTo, item.S("")},
		{schema.AttrLimits, item.S("")},
	} {
		field(attr.name, oldOpt[attr.name], newOpt[attr.name], attr.zero)
	}
	expr := "SET " + strings.Join(sets, ", ")
	if len(removes) > 0 {
		expr += " REMOVE " + strings.Join(removes, ", ")
	}
	return &types.Update{
		TableName:                 aws.String(table),
		Key:                       map[string]types.AttributeValue{schema.AttrToken: item.S(old.Hash)},
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String(strings.Join(conds, " AND ")),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}
}

// whyRefused tells, after old's item failed its condition, whether it is
// gone (ErrNotFound: no item, a legacy item or another tokenUUID at that
// hash) or was changed meanwhile (ErrConflict). One strongly consistent
// GetItem; a failure to read is an error that is neither.
func (s *Store) whyRefused(ctx context.Context, old store.Token) error {
	cur, err := s.GetByHash(ctx, old.Hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.ErrNotFound
	case err != nil:
		return fmt.Errorf("read back: %w", err)
	case cur.Legacy || cur.UUID != old.UUID:
		return store.ErrNotFound
	default:
		return store.ErrConflict
	}
}

// Update implements store.Store with one TransactWriteItems: the
// conditional Update of the token item (casUpdate; LastUsedAt and every
// other attribute are left as stored) and the audit events. A failed
// condition is told apart by one strongly consistent read: ErrNotFound if
// the token is gone, else ErrConflict.
func (s *Store) Update(ctx context.Context, old, updated store.Token, audit ...store.Event) error {
	if err := change.Updatable(old, updated); err != nil {
		return fmt.Errorf("dynamostore: update: %w", err)
	}
	if schema.IsReservedKey(old.Hash) {
		return fmt.Errorf("dynamostore: update: %w", store.ErrNotFound)
	}
	events, err := s.eventPuts(audit)
	if err != nil {
		return fmt.Errorf("dynamostore: update: %w", err)
	}
	codes, err := s.transact(ctx, append([]types.TransactWriteItem{{Update: casUpdate(s.table, old, updated)}}, events...))
	switch {
	case err == nil:
		return nil
	case failed(codes, 0):
		return fmt.Errorf("dynamostore: update %s: %w", old.UUID, s.whyRefused(ctx, old))
	default:
		return fmt.Errorf("dynamostore: update %s: %w", old.UUID, err)
	}
}

// Rotate implements store.Store with one TransactWriteItems:
//
//  0. Put fresh, attribute_not_exists(token) (ErrExists);
//  1. the conditional Update of old to retired (casUpdate: same tokenUUID,
//     no rotatedTo, every mutable field as in old; ErrNotFound or
//     ErrConflict as for Update);
//  2. for a non-system token, Put of the guard item naming fresh, on the
//     condition that it names old (or is absent: tokens older than guard
//     items); a guard naming a third token is ErrSlotTaken;
//  3. the audit events.
//
// Like Create, a fresh UUID that tokenUUID-index already holds is ErrExists
// before the transaction. Concurrent rotations of one token collide on
// item 1: DynamoDB cancels all but one (a failed condition, or a
// TransactionConflict that transact retries until the condition fails).
// If the retries run out, the token is read back: changed means another
// rotation won (ErrConflict).
func (s *Store) Rotate(ctx context.Context, old, retired, fresh store.Token, audit ...store.Event) error {
	if err := change.Rotatable(old, retired, fresh); err != nil {
		return fmt.Errorf("dynamostore: rotate: %w", err)
	}
	events, err := s.eventPuts(audit)
	if err != nil {
		return fmt.Errorf("dynamostore: rotate: %w", err)
	}
	if n, err := s.countUUID(ctx, fresh.UUID); err != nil {
		return fmt.Errorf("dynamostore: rotate: check tokenUUID: %w", err)
	} else if n > 0 {
		return fmt.Errorf("dynamostore: rotate: tokenUUID %s: %w", fresh.UUID, store.ErrExists)
	}
	if schema.IsReservedKey(old.Hash) {
		return fmt.Errorf("dynamostore: rotate: %w", store.ErrNotFound)
	}
	if old.RotatedTo != "" {
		return fmt.Errorf("dynamostore: rotate %s: already rotated: %w", old.UUID, store.ErrConflict)
	}
	items := []types.TransactWriteItem{
		{Put: &types.Put{
			TableName: aws.String(s.table), Item: item.Encode(fresh),
			ConditionExpression:      aws.String("attribute_not_exists(" + phToken + ")"),
			ExpressionAttributeNames: map[string]string{phToken: schema.AttrToken},
		}},
		{Update: casUpdate(s.table, old, retired)},
	}
	if !old.IsSystem {
		items = append(items, types.TransactWriteItem{Put: &types.Put{
			TableName:                 aws.String(s.table),
			Item:                      item.Guard(fresh.Username, fresh.UUID, fresh.Hash),
			ConditionExpression:       aws.String("attribute_not_exists(" + phToken + ") OR " + phGuardFor + " = :old"),
			ExpressionAttributeNames:  map[string]string{phToken: schema.AttrToken, phGuardFor: schema.AttrGuardFor},
			ExpressionAttributeValues: map[string]types.AttributeValue{":old": item.S(old.UUID)},
		}})
	}
	codes, err := s.transact(ctx, append(items, events...))
	switch {
	case err == nil:
		return nil
	case failed(codes, 1):
		return fmt.Errorf("dynamostore: rotate %s: %w", old.UUID, s.whyRefused(ctx, old))
	case failed(codes, 0):
		return fmt.Errorf("dynamostore: rotate %s: new token: %w", old.UUID, store.ErrExists)
	case !old.IsSystem && failed(codes, 2):
		return fmt.Errorf("dynamostore: rotate %s: %w", old.UUID, store.ErrSlotTaken)
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		// Retries exhausted on conflicts: if the token changed, the
		// transaction it conflicted with won.
		cur, gerr := s.GetByHash(ctx, old.Hash)
		switch {
		case errors.Is(gerr, store.ErrNotFound) || (gerr == nil && (cur.Legacy || cur.UUID != old.UUID)):
			return fmt.Errorf("dynamostore: rotate %s: %w", old.UUID, store.ErrNotFound)
		case gerr == nil && !change.SameMutable(cur, old):
			return fmt.Errorf("dynamostore: rotate %s: %w", old.UUID, store.ErrConflict)
		}
	}
	return fmt.Errorf("dynamostore: rotate %s: %w", old.UUID, err)
}

// TouchLastUsed implements store.Store with one UpdateItem,
// SET lastUsedAt = :t on the condition that the item is a token
// (attribute_exists(tokenUUID): never a legacy or reserved item, never a new
// item) whose lastUsedAt is absent or earlier. A failed condition is the
// contract's "nothing to do", not an error.
func (s *Store) TouchLastUsed(ctx context.Context, hash string, at int64) error {
	if hash == "" || schema.IsReservedKey(hash) {
		return nil
	}
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       map[string]types.AttributeValue{schema.AttrToken: item.S(hash)},
		UpdateExpression:          aws.String("SET #lu = :t"),
		ConditionExpression:       aws.String("attribute_exists(" + phUUID + ") AND (attribute_not_exists(#lu) OR #lu < :t)"),
		ExpressionAttributeNames:  map[string]string{phUUID: schema.AttrTokenUUID, "#lu": schema.AttrLastUsedAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": item.N(at)},
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("dynamostore: touch last used: %w", err)
	}
	return nil
}
