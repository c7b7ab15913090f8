// Package item encodes and decodes the token table's items: one spelling of
// each attribute, shared by the store and its test support.
package item

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/llmgw/apitokens/pkg/limits"
	"github.com/llmgw/apitokens/pkg/schema"
	"github.com/llmgw/apitokens/pkg/secret"
	"github.com/llmgw/apitokens/pkg/store"
)

// Item encoding is written by hand rather than with the attributevalue
// package: eight attributes do not justify another module, and spelling each
// one through pkg/schema keeps every attribute name in one place.

// S is a string attribute.
func S(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

// N is a number attribute.
func N(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// Bool is a BOOL attribute.
func Bool(b bool) types.AttributeValue { return &types.AttributeValueMemberBOOL{Value: b} }

// Encode is the item for a new (non-legacy) token. Every attribute of the
// original scheme is written, empty strings and an empty group list
// included, so that an item read back is the token that was written. The
// lifecycle attributes (Optional) are written only when set: absent is
// their zero value, so items written before they existed read the same.
func Encode(t store.Token) map[string]types.AttributeValue {
	groups := make([]types.AttributeValue, len(t.Groups))
	for i, g := range t.Groups {
		groups[i] = S(g)
	}
	it := map[string]types.AttributeValue{
		schema.AttrToken:           S(t.Hash),
		schema.AttrTokenUUID:       S(t.UUID),
		schema.AttrUsername:        S(t.Username),
		schema.AttrCreatedBy:       S(t.CreatedBy),
		schema.AttrCreatedVia:      S(t.CreatedVia),
		schema.AttrCreatedDate:     N(t.CreatedDate),
		schema.AttrTokenExpiration: N(t.Expiration),
		schema.AttrName:            S(t.Name),
		schema.AttrGroups:          &types.AttributeValueMemberL{Value: groups},
		schema.AttrIsSystemToken:   &types.AttributeValueMemberBOOL{Value: t.IsSystem},
	}
	for name, v := range Optional(t) {
		if v != nil {
			it[name] = v
		}
	}
	return it
}

// Optional is every lifecycle attribute of t by name: its value, or nil
// when it holds the zero value and so is not stored (an update REMOVEs it).
func Optional(t store.Token) map[string]types.AttributeValue {
	out := map[string]types.AttributeValue{}
	setS := func(name, v string) {
		out[name] = nil
		if v != "" {
			out[name] = S(v)
		}
	}
	setN := func(name string, v int64) {
		out[name] = nil
		if v != 0 {
			out[name] = N(v)
		}
	}
	out[schema.AttrDisabled] = nil
	if t.Disabled {
		out[schema.AttrDisabled] = Bool(true)
	}
	out[schema.AttrDisabledByAdmin] = nil
	if t.DisabledByAdmin {
		out[schema.AttrDisabledByAdmin] = Bool(true)
	}
	setS(schema.AttrDisabledBy, t.DisabledBy)
	setN(schema.AttrDisabledAt, t.DisabledAt)
	setN(schema.AttrUpdatedAt, t.UpdatedAt)
	setN(schema.AttrLastUsedAt, t.LastUsedAt)
	setS(schema.AttrRotatedFrom, t.RotatedFrom)
	setS(schema.AttrRotatedTo, t.RotatedTo)
	setS(schema.AttrLimits, limits.Encode(t.Limits))
	setS(schema.AttrUsageKeyOf, t.UsageKey)
	return out
}

// Guard reserves username's single non-system slot for the token
// tokenUUID, whose partition key is tokenHash. It
// deliberately has no username or tokenUUID attribute, so it never appears
// in either index.
func Guard(username, tokenUUID, tokenHash string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		schema.AttrToken:     S(schema.GuardKey(username)),
		schema.AttrGuardFor:  S(tokenUUID),
		schema.AttrGuardHash: S(tokenHash),
	}
}

// Decode turns an item into a Token. An item without tokenUUID is a
// legacy item (a plain-text value an admin inserted by hand). Items written by hand may carry unexpected types;
// numbers are read leniently, anything else unreadable is an error that names
// the item by UUID or legacy id, never by its key (a legacy key is a secret).
func Decode(item map[string]types.AttributeValue) (store.Token, error) {
	key, ok := item[schema.AttrToken].(*types.AttributeValueMemberS)
	if !ok || key.Value == "" {
		return store.Token{}, errors.New("item without a string token key")
	}
	t := store.Token{Hash: key.Value, Groups: []string{}}
	uuid, err := optS(item, schema.AttrTokenUUID)
	if err != nil {
		return store.Token{}, fmt.Errorf("item %s: %w", secret.LegacyID(key.Value), err)
	}
	t.UUID = uuid
	t.Legacy = uuid == ""
	ref := uuid
	if t.Legacy {
		ref = secret.LegacyID(key.Value)
	}
	fail := func(err error) (store.Token, error) {
		return store.Token{}, fmt.Errorf("item %s: %w", ref, err)
	}
	if t.Username, err = optS(item, schema.AttrUsername); err != nil {
		return fail(err)
	}
	if t.CreatedBy, err = optS(item, schema.AttrCreatedBy); err != nil {
		return fail(err)
	}
	if t.CreatedVia, err = optS(item, schema.AttrCreatedVia); err != nil {
		return fail(err)
	}
	if t.Name, err = optS(item, schema.AttrName); err != nil {
		return fail(err)
	}
	if t.CreatedDate, err = optN(item, schema.AttrCreatedDate); err != nil {
		return fail(err)
	}
	if t.Expiration, err = optN(item, schema.AttrTokenExpiration); err != nil {
		return fail(err)
	}
	switch v := item[schema.AttrGroups].(type) {
	case nil:
	case *types.AttributeValueMemberL:
		for _, g := range v.Value {
			s, ok := g.(*types.AttributeValueMemberS)
			if !ok {
				return fail(fmt.Errorf("%s holds a non-string element", schema.AttrGroups))
			}
			t.Groups = append(t.Groups, s.Value)
		}
	case *types.AttributeValueMemberSS: // a hand-written item may use a string set
		t.Groups = append(t.Groups, v.Value...)
	default:
		return fail(fmt.Errorf("%s has type %T, want a list of strings", schema.AttrGroups, v))
	}
	for name, dst := range map[string]*bool{
		schema.AttrIsSystemToken:   &t.IsSystem,
		schema.AttrDisabled:        &t.Disabled,
		schema.AttrDisabledByAdmin: &t.DisabledByAdmin,
	} {
		switch v := item[name].(type) {
		case nil:
		case *types.AttributeValueMemberBOOL:
			*dst = v.Value
		default:
			return fail(fmt.Errorf("%s has type %T, want BOOL", name, v))
		}
	}
	for name, dst := range map[string]*string{
		schema.AttrDisabledBy:  &t.DisabledBy,
		schema.AttrRotatedFrom: &t.RotatedFrom,
		schema.AttrRotatedTo:   &t.RotatedTo,
		schema.AttrUsageKeyOf:  &t.UsageKey,
	} {
		if *dst, err = optS(item, name); err != nil {
			return fail(err)
		}
	}
	raw, err := optS(item, schema.AttrLimits)
	if err != nil {
		return fail(err)
	}
	if t.Limits, err = limits.Decode(raw); err != nil {
		return fail(fmt.Errorf("%s: %w", schema.AttrLimits, err))
	}
	for name, dst := range map[string]*int64{
		schema.AttrDisabledAt: &t.DisabledAt,
		schema.AttrUpdatedAt:  &t.UpdatedAt,
		schema.AttrLastUsedAt: &t.LastUsedAt,
	} {
		if *dst, err = optN(item, name); err != nil {
			return fail(err)
		}
	}
	return t, nil
}

func optS(item map[string]types.AttributeValue, name string) (string, error) {
	switch v := item[name].(type) {
	case nil:
		return "", nil
	case *types.AttributeValueMemberS:
		return v.Value, nil
	default:
		return "", fmt.Errorf("%s has type %T, want S", name, v)
	}
}

// optN reads a Unix-seconds attribute. Admins are told to write
// tokenExpiration as N from `date +%s`; a string of digits or a number with
// a fraction is accepted too rather than making the whole listing fail.
func optN(item map[string]types.AttributeValue, name string) (int64, error) {
	var s string
	switch v := item[name].(type) {
	case nil:
		return 0, nil
	case *types.AttributeValueMemberN:
		s = v.Value
	case *types.AttributeValueMemberS:
		s = v.Value
	default:
		return 0, fmt.Errorf("%s has type %T, want N", name, v)
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f >= math.MaxInt64 || f < math.MinInt64 {
		return 0, fmt.Errorf("%s is not a number", name)
	}
	return int64(f), nil
}

// EncodeSettings is the settings item (schema.SettingsItem). A setting that
// was never set (nil) is left out, so that reading the item back gives nil.
func EncodeSettings(s store.Settings) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{
		schema.AttrToken:     S(schema.SettingsItem),
		schema.AttrUpdatedBy: S(s.UpdatedBy),
		schema.AttrUpdatedAt: N(s.UpdatedAt),
	}
	if s.AllowUserManagedTokens != nil {
		it[schema.AttrAllowUserManaged] = &types.AttributeValueMemberBOOL{Value: *s.AllowUserManagedTokens}
	}
	return it
}

// DecodeSettings reads the settings item. A setting of the wrong type (an
// item edited by hand) is an error: the caller must not guess a value that
// decides who may create tokens.
func DecodeSettings(it map[string]types.AttributeValue) (store.Settings, error) {
	var s store.Settings
	switch v := it[schema.AttrAllowUserManaged].(type) {
	case nil:
	case *types.AttributeValueMemberBOOL:
		b := v.Value
		s.AllowUserManagedTokens = &b
	default:
		return store.Settings{}, fmt.Errorf("item %s: %s has type %T, want BOOL", schema.SettingsItem, schema.AttrAllowUserManaged, v)
	}
	var err error
	if s.UpdatedBy, err = optS(it, schema.AttrUpdatedBy); err != nil {
		return store.Settings{}, fmt.Errorf("item %s: %w", schema.SettingsItem, err)
	}
	if s.UpdatedAt, err = optN(it, schema.AttrUpdatedAt); err != nil {
		return store.Settings{}, fmt.Errorf("item %s: %w", schema.SettingsItem, err)
	}
	return s, nil
}
