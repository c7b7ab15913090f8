package auth

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/llmgw/apitokens/pkg/limits"
)

// AuthType says how a principal authenticated.
type AuthType string

// Authentication types, as carried in the authorizer context.
const (
	AuthJWT      AuthType = "jwt"
	AuthAPIToken AuthType = "api_token"
)

// Principal is who made a request, as the authorizer hands it downstream.
type Principal struct {
	Username  string
	Groups    []string
	AuthType  AuthType
	TokenUUID string // set when an API token was used
	IsAdmin   bool
	IsAPIUser bool
	// ExpiresAt is when the presented credential stops working (Unix
	// seconds): the API token's tokenExpiration or the JWT's exp. A token
	// made with this credential may not outlive it.
	ExpiresAt int64
	// IsSystemToken is set when the credential is a system token.
	IsSystemToken bool
	// Limits are the API token's own limits (nil: none of its own); the
	// serve path resolves them with the deployment's defaults. Not part of
	// the authorizer context.
	Limits *limits.Limits
	// UsageKey is the key the API token's usage and rate counters are kept
	// under (store.UsageKeyOf): the first token of its rotations. Not part
	// of the authorizer context.
	UsageKey string
}

// Groups names the groups that carry meaning for authorization.
type Groups struct {
	Admin string // ADMIN_GROUP: may manage every token and use every model
	User  string // USER_GROUP: if set, a JWT principal must be in it (or Admin/API)
	API   string // API_GROUP: may create and manage their own token
}

// Roles returns whether a member of groups is an admin and an API user.
// An admin is also an API user. Empty group names never match.
func (g Groups) Roles(groups []string) (isAdmin, isAPIUser bool) {
	isAdmin = g.Admin != "" && slices.Contains(groups, g.Admin)
	isAPIUser = isAdmin || (g.API != "" && slices.Contains(groups, g.API))
	return isAdmin, isAPIUser
}

// Keys of the authorizer context. API Gateway passes these to the function
// as requestContext.authorizer.<key>.
const (
	CtxUsername  = "username"
	CtxGroups    = "groups" // JSON array as a string: the context holds only scalars
	CtxAuthType  = "authType"
	CtxTokenUUID = "tokenUUID"
	CtxIsAdmin   = "isAdmin"
	CtxIsAPIUser = "isApiUser"
	CtxExpiresAt = "expiresAt"
	CtxIsSystem  = "isSystemToken"
)

// Context encodes p as an authorizer context (string, number and boolean
// values only, as API Gateway requires).
func (p Principal) Context() map[string]interface{} {
	groups := p.Groups
	if groups == nil {
		groups = []string{}
	}
	g, _ := json.Marshal(groups) // a []string always marshals
	m := map[string]interface{}{
		CtxUsername:  p.Username,
		CtxGroups:    string(g),
		CtxAuthType:  string(p.AuthType),
		CtxIsAdmin:   p.IsAdmin,
		CtxIsAPIUser: p.IsAPIUser,
		CtxIsSystem:  p.IsSystemToken,
	}
	if p.ExpiresAt != 0 {
		m[CtxExpiresAt] = p.ExpiresAt
	}
	if p.TokenUUID != "" {
		m[CtxTokenUUID] = p.TokenUUID
	}
	return m
}

// PrincipalFromContext decodes an authorizer context. Booleans may arrive as
// JSON booleans or as strings, depending on how API Gateway serialised them.
// A context without a username is an error: the function must not run
// without an authenticated caller.
func PrincipalFromContext(m map[string]interface{}) (Principal, error) {
	var p Principal
	u, _ := m[CtxUsername].(string)
	if u == "" {
		return p, fmt.Errorf("authorizer context has no username")
	}
	p.Username = u
	if s, ok := m[CtxGroups].(string); ok && s != "" {
		if err := json.Unmarshal([]byte(s), &p.Groups); err != nil {
			return Principal{}, fmt.Errorf("authorizer context groups: %w", err)
		}
	}
	if p.Groups == nil {
		p.Groups = []string{}
	}
	at, _ := m[CtxAuthType].(string)
	p.AuthType = AuthType(at)
	p.TokenUUID, _ = m[CtxTokenUUID].(string)
	p.IsAdmin = ctxBool(m[CtxIsAdmin])
	p.IsAPIUser = ctxBool(m[CtxIsAPIUser])
	p.IsSystemToken = ctxBool(m[CtxIsSystem])
	exp, err := ctxInt(m[CtxExpiresAt])
	if err != nil {
		return Principal{}, fmt.Errorf("authorizer context %s: %w", CtxExpiresAt, err)
	}
	p.ExpiresAt = exp
	return p, nil
}

// ctxInt reads a Unix-seconds value that API Gateway may deliver as a JSON
// number or as a string; absent is 0.
func ctxInt(v interface{}) (int64, error) {
	switch n := v.(type) {
	case nil:
		return 0, nil
	case int64:
		return n, nil
	case int:
		return int64(n), nil
	case float64:
		if n != float64(int64(n)) {
			return 0, fmt.Errorf("%v is not a whole number", n)
		}
		return int64(n), nil
	case json.Number:
		return n.Int64()
	case string:
		return strconv.ParseInt(n, 10, 64)
	}
	return 0, fmt.Errorf("unexpected type %T", v)
}

func ctxBool(v interface{}) bool {
	switch b := v.(type) {
	case bool:
		return b
	case string:
		ok, _ := strconv.ParseBool(b)
		return ok
	}
	return false
}
