// Package tokensvc holds every rule of the token lifecycle (README, "The
// token API"): who may create,
// list, read and delete which tokens, defaults and limits, and the
// one-token-per-user rule. It knows nothing of Lambda or HTTP; the functions
// under functions/ adapt events to these calls, and apierr maps its errors to
// status codes.
package tokensvc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/limits"
	"github.com/llmgw/apitokens/pkg/secret"
	"github.com/llmgw/apitokens/pkg/store"
	"github.com/llmgw/apitokens/pkg/usage"
)

// Config holds the rules that deployments tune.
type Config struct {
	Groups           auth.Groups
	DefaultTokenDays int // DEFAULT_TOKEN_DAYS
	MaxTokenDays     int // MAX_TOKEN_DAYS
	// AllowUserManaged is ALLOW_USER_MANAGED_TOKENS: whether members of the
	// API group may create their own token while no admin has set it
	// through PUT /settings (the table's value then wins).
	AllowUserManaged bool
	// SettingsTTL is how long a read of the settings is reused before a
	// self-service create reads them again (TOKEN_CACHE_SECONDS): the bound
	// within which a change made through PUT /settings takes effect on
	// every instance. 0 reads them for every self-service create.
	SettingsTTL time.Duration
	// TokenFormat is what new tokens look like (TOKEN_FORMAT,
	// TOKEN_PREFIX); the zero value is secret.Hex.
	TokenFormat secret.Format
	// Limits are the deployment's limits (DEFAULT_TOKEN_LIMITS,
	// GROUP_TOKEN_LIMITS): what views show as a token's effective limits,
	// and what callers other than admins may not raise.
	Limits limits.Policy
}

// Service implements the token management API.
type Service struct {
	store  store.Store
	cfg    Config
	now    func() time.Time
	rand   io.Reader // nil means crypto/rand
	newID  func() string
	logger *slog.Logger
	usage  usage.Store // nil: the usage endpoints answer 503

	settings settingsCache
}

// Option customises a Service, mainly for tests.
type Option func(*Service)

// WithClock sets the time source.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithRandom sets the source of secret bytes.
func WithRandom(r io.Reader) Option { return func(s *Service) { s.rand = r } }

// WithLogger sets the structured logger.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.logger = l } }

// WithUsage sets the usage store the usage endpoints read.
func WithUsage(u usage.Store) Option { return func(s *Service) { s.usage = u } }

// New returns a Service over st.
func New(st store.Store, cfg Config, opts ...Option) *Service {
	s := &Service{
		store:  st,
		cfg:    cfg,
		now:    time.Now,
		newID:  func() string { return uuid.NewString() },
		logger: slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Created is the 201 answer to a create: the only place the plain token appears.
type Created struct {
	Token           string   `json:"token"`
	TokenUUID       string   `json:"tokenUUID"`
	TokenExpiration int64    `json:"tokenExpiration"`
	CreatedDate     int64    `json:"createdDate"`
	Username        string   `json:"username"`
	CreatedBy       string   `json:"createdBy"`
	CreatedVia      string   `json:"createdVia"`
	Name            string   `json:"name"`
	Groups          []string `json:"groups"`
	IsSystemToken   bool     `json:"isSystemToken"`
	// RotatedFrom is set on the answer to a rotation: the token replaced.
	RotatedFrom string `json:"rotatedFrom,omitempty"`
	// Limits are the token's own limits, omitted if it has none;
	// EffectiveLimits those that apply to it (limits.Policy.Resolve), {}
	// if none does.
	Limits          *limits.Limits `json:"limits,omitempty"`
	EffectiveLimits *limits.Limits `json:"effectiveLimits,omitempty"`
	// UsageKey is as on View.
	UsageKey string `json:"usageKey,omitempty"`
}

// LogValue keeps the secret out of structured logs even if a Created is
// logged by mistake.
func (c Created) LogValue() slog.Value {
	return slog.GroupValue(slog.String("tokenUUID", c.TokenUUID), slog.String("username", c.Username))
}

// View is a token as list and get show it: never the secret, never the hash.
type View struct {
	TokenUUID       string   `json:"tokenUUID"`
	TokenExpiration int64    `json:"tokenExpiration"`
	CreatedDate     int64    `json:"createdDate"`
	Username        string   `json:"username"`
	CreatedBy       string   `json:"createdBy"`
	CreatedVia      string   `json:"createdVia,omitempty"`
	Name            string   `json:"name"`
	Groups          []string `json:"groups"`
	IsSystemToken   bool     `json:"isSystemToken"`
	IsExpired       bool     `json:"isExpired"`
	IsLegacy        bool     `json:"isLegacy"`
	// Status is one of the Status constants.
	Status          string `json:"status"`
	Disabled        bool   `json:"disabled"`
	DisabledBy      string `json:"disabledBy,omitempty"`
	DisabledByAdmin bool   `json:"disabledByAdmin,omitempty"`
	DisabledAt      int64  `json:"disabledAt,omitempty"`
	UpdatedAt       int64  `json:"updatedAt,omitempty"`
	LastUsedAt      int64  `json:"lastUsedAt,omitempty"`
	RotatedFrom     string `json:"rotatedFrom,omitempty"`
	RotatedTo       string `json:"rotatedTo,omitempty"`
	// Limits are the token's own limits, omitted if it has none;
	// EffectiveLimits those that apply to it: field by field its own, else
	// the most generous of its groups' (GROUP_TOKEN_LIMITS), else the
	// default (DEFAULT_TOKEN_LIMITS); {} if none does (omitted only for
	// legacy items).
	Limits          *limits.Limits `json:"limits,omitempty"`
	EffectiveLimits *limits.Limits `json:"effectiveLimits,omitempty"`
	// UsageKey is the key its usage is counted under, as the usage
	// report's tokenUUID names it, when that is not its own UUID: the
	// user's key for a personal token, the first of its rotations for a
	// system token.
	UsageKey string `json:"usageKey,omitempty"`
}

// Values of View.Status. A disabled token is "disabled" whatever its
// expiry; a rotated one still working (its grace period) is "rotated".
const (
	StatusActive   = "active"
	StatusExpired  = "expired"
	StatusDisabled = "disabled"
	StatusRotated  = "rotated"
)

// ListResult is one page of views; NextToken is omitted on the last page.
type ListResult struct {
	Tokens    []View `json:"tokens"`
	NextToken string `json:"nextToken,omitempty"`
}

// Deleted is the answer to a delete.
type Deleted struct {
	Message   string `json:"message"`
	TokenUUID string `json:"tokenUUID"`
}

// Create issues a token. forUser is the {username} path value of
// POST /api-tokens/{username}, or "" for POST /api-tokens/ (the caller's own).
//
// A token never outranks the credential that made it: when the caller
// authenticated with an API token, the new token expires no later than
// that token and holds none of the groups it lacks, and a system token
// cannot make a user token at all. Otherwise a leaked token could renew
// itself forever, and the groups fixed at creation would stop being fixed.
func (s *Service) Create(ctx context.Context, caller auth.Principal, forUser string, req CreateRequest) (Created, error) {
	now := s.now()
	byToken := caller.AuthType == auth.AuthAPIToken
	if byToken && caller.ExpiresAt == 0 {
		// Not reachable through the adapters, which always fill it in.
		return Created{}, apierr.New(apierr.Internal, "API-token caller without an expiry")
	}
	var t store.Token
	if forUser != "" {
		if !caller.IsAdmin {
			// The documented answer for a non-admin on this endpoint is 401.
			return Created{}, apierr.New(apierr.Unauthenticated, "only admins can create tokens for a user").WithCode("not_admin")
		}
		username, err := validateUsername(forUser)
		if err != nil {
			return Created{}, err
		}
		groups, err := validateGroups(req.Groups)
		if err != nil {
			return Created{}, err
		}
		if byToken {
			for _, g := range groups {
				if !slices.Contains(caller.Groups, g) {
					return Created{}, apierr.New(apierr.Invalid, "group %q is not held by the API token making this request: a token cannot grant groups its creator lacks (sign in to create it)", g).WithCode("group_not_held")
				}
			}
		}
		t = store.Token{Username: username, Groups: groups, IsSystem: req.IsSystemToken != nil && *req.IsSystemToken}
	} else {
		if byToken && caller.IsSystemToken {
			return Created{}, apierr.New(apierr.Forbidden, "a system token cannot create a user token: sign in to create your own, or ask an admin").WithCode("system_token")
		}
		if err := s.mayCreateOwn(ctx, caller); err != nil {
			return Created{}, err
		}
		// The username comes from the identity provider (or a token): it
		// must still be a name a token can be stored under.
		if _, err := validateUsername(caller.Username); err != nil {
			return Created{}, err
		}
		if req.IsSystemToken != nil && *req.IsSystemToken {
			return Created{}, apierr.New(apierr.Invalid, "isSystemToken cannot be set on your own token: only admins create system tokens, with POST /api-tokens/{username}")
		}
		if req.Groups != nil {
			return Created{}, apierr.New(apierr.Invalid, "groups cannot be set on your own token: it inherits your current groups")
		}
		t = store.Token{Username: caller.Username, Groups: append([]string{}, caller.Groups...)}
	}
	name, err := validateName(req.Name)
	if err != nil {
		return Created{}, err
	}
	own, _, err := parseLimits(req.Limits)
	if err != nil {
		return Created{}, err
	}
	if own != nil && boundByPolicy(caller) {
		// What the token would get without limits of its own is the
		// ceiling: the caller's own defaults, for a self-service token.
		if err := checkNotRaised(s.cfg.Limits.Resolve(nil, t.Groups), s.cfg.Limits.Resolve(own, t.Groups),
			"above what the deployment allows this token"); err != nil {
			return Created{}, err
		}
	}
	t.Limits = own
	if !t.IsSystem {
		t.UsageKey = store.PersonalUsageKey(t.Username)
	}
	var ceiling int64 // the latest expiry allowed by the caller's credential; 0 = none
	if byToken {
		ceiling = caller.ExpiresAt
	}
	exp, err := s.expiration(req, now, ceiling)
	if err != nil {
		return Created{}, err
	}
	plain, err := s.cfg.TokenFormat.Generate(s.rand)
	if err != nil {
		return Created{}, apierr.Wrap(apierr.Internal, err, "generate token")
	}
	t.Hash = secret.Hash(plain)
	t.UUID = s.newID()
	t.CreatedBy = caller.Username
	t.CreatedVia = createdVia(caller)
	t.CreatedDate = now.Unix()
	t.Expiration = exp
	t.Name = name

	switch err := s.store.Create(ctx, t, s.event(ctx, caller, store.ActionCreate, t.UUID, t.Username, creation(t)...)); {
	case errors.Is(err, store.ErrSlotTaken):
		return Created{}, apierr.New(apierr.Invalid, "user %s already has a token: delete it before creating a new one", t.Username).WithCode("token_exists")
	case err != nil:
		return Created{}, storeFailure(err, "create token")
	}
	s.logger.InfoContext(ctx, "token created",
		slog.String("tokenUUID", t.UUID), slog.String("username", t.Username),
		slog.String("createdBy", t.CreatedBy), slog.String("createdVia", t.CreatedVia), slog.Bool("isSystemToken", t.IsSystem),
		slog.Int64("tokenExpiration", t.Expiration))
	return s.created(t, plain), nil
}

// created is the answer to a create or a rotation that made t, whose
// secret is plain.
func (s *Service) created(t store.Token, plain string) Created {
	return Created{
		Token: plain, TokenUUID: t.UUID, TokenExpiration: t.Expiration, CreatedDate: t.CreatedDate,
		Username: t.Username, CreatedBy: t.CreatedBy, CreatedVia: t.CreatedVia, Name: t.Name, Groups: t.Groups, IsSystemToken: t.IsSystem,
		RotatedFrom: t.RotatedFrom, Limits: t.Limits, EffectiveLimits: s.effective(t.Limits, t.Groups), UsageKey: usageKeyView(t),
	}
}

// createdVia names how caller authenticated: "jwt", or the tokenUUID of
// the API token it presented (never the token itself).
func createdVia(caller auth.Principal) string {
	if caller.AuthType == auth.AuthAPIToken {
		return caller.TokenUUID
	}
	return string(caller.AuthType)
}

// mayCreateOwn is the gate of POST /api-tokens/: admins always, members of
// the API group while user-managed tokens are allowed (allowUserManaged).
func (s *Service) mayCreateOwn(ctx context.Context, caller auth.Principal) error {
	if caller.IsAdmin {
		return nil
	}
	if !caller.IsAPIUser {
		return apierr.New(apierr.Forbidden, "creating API tokens requires membership of the API group: ask an admin to add you to it, or to create a token for you").WithCode("not_api_user")
	}
	allow, err := s.allowUserManaged(ctx)
	if err != nil {
		return err
	}
	if !allow {
		return apierr.New(apierr.Forbidden, "user-managed API tokens are disabled: ask an admin to create one for you").WithCode("user_tokens_disabled")
	}
	return nil
}

// mayManage is the gate for list, get and delete: admins, and members of
// the API group for their own tokens.
func mayManage(caller auth.Principal) error {
	if caller.IsAdmin || caller.IsAPIUser {
		return nil
	}
	return apierr.New(apierr.Forbidden, "managing API tokens requires membership of the API group: ask an admin to add you to it").WithCode("not_api_user")
}

// List returns a page of tokens: all of them for admins (optionally one
// user's), the caller's own for everyone else.
func (s *Service) List(ctx context.Context, caller auth.Principal, req ListRequest) (ListResult, error) {
	if err := mayManage(caller); err != nil {
		return ListResult{}, err
	}
	limit, err := parseLimit(req.Limit)
	if err != nil {
		return ListResult{}, err
	}
	username := req.Username
	if !caller.IsAdmin {
		if username != "" && username != caller.Username {
			return ListResult{}, apierr.New(apierr.Forbidden, "only admins can list other users' tokens").WithCode("not_admin")
		}
		username = caller.Username
	}
	if username != "" {
		if _, err := validateUsername(username); err != nil {
			return ListResult{}, err
		}
	}
	page, err := s.store.List(ctx, store.ListOptions{Username: username, Limit: limit, Cursor: req.NextToken})
	if errors.Is(err, store.ErrBadCursor) {
		return ListResult{}, apierr.New(apierr.Invalid, "nextToken is not valid for this listing: start again without it").WithCode("invalid_next_token")
	}
	if err != nil {
		return ListResult{}, storeFailure(err, "list tokens")
	}
	now := s.now().Unix()
	out := ListResult{Tokens: make([]View, 0, len(page.Tokens)), NextToken: page.Cursor}
	for _, t := range page.Tokens {
		out.Tokens = append(out.Tokens, s.view(t, now))
	}
	return out, nil
}

// Get returns one token by UUID (or, for admins, by legacy id).
func (s *Service) Get(ctx context.Context, caller auth.Principal, id string) (View, error) {
	if err := mayManage(caller); err != nil {
		return View{}, err
	}
	t, err := s.find(ctx, caller, id)
	if err != nil {
		return View{}, err
	}
	return s.view(t, s.now().Unix()), nil
}

// Delete revokes a token. Admins delete any, legacy items included; an
// owner can always delete their own, also after leaving the API group:
// revoking never needs more rights than holding.
func (s *Service) Delete(ctx context.Context, caller auth.Principal, id string) (Deleted, error) {
	t, err := s.find(ctx, caller, id)
	if err != nil {
		return Deleted{}, err
	}
	pub := publicID(t)
	if err := s.store.Delete(ctx, t, s.event(ctx, caller, store.ActionDelete, pub, t.Username)); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Deleted{}, errNotFound
		}
		return Deleted{}, storeFailure(err, "delete token")
	}
	s.logger.InfoContext(ctx, "token deleted", slog.String("tokenUUID", pub),
		slog.String("username", t.Username), slog.String("deletedBy", caller.Username), slog.Bool("isLegacy", t.Legacy))
	return Deleted{Message: "Token deleted successfully", TokenUUID: pub}, nil
}

var errNotFound = apierr.New(apierr.NotFound, "Token not found").WithCode("token_not_found")

// find resolves id for caller. Another user's token and a missing one give
// the same 404, so ids cannot be probed.
func (s *Service) find(ctx context.Context, caller auth.Principal, id string) (store.Token, error) {
	if strings.HasPrefix(id, secret.LegacyPrefix) {
		if !caller.IsAdmin {
			return store.Token{}, apierr.New(apierr.Forbidden, "legacy tokens can only be managed by admins").WithCode("not_admin")
		}
		if !validLegacyID(id) {
			return store.Token{}, errBadID
		}
		t, err := s.store.GetLegacy(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return store.Token{}, errNotFound
		}
		if err != nil {
			return store.Token{}, storeFailure(err, "find legacy token")
		}
		return t, nil
	}
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		return store.Token{}, errBadID
	}
	t, err := s.store.GetByUUID(ctx, strings.ToLower(id))
	if errors.Is(err, store.ErrNotFound) {
		return store.Token{}, errNotFound
	}
	if err != nil {
		return store.Token{}, storeFailure(err, "find token")
	}
	if !caller.IsAdmin && t.Username != caller.Username {
		return store.Token{}, errNotFound
	}
	return t, nil
}

func validLegacyID(id string) bool {
	h := strings.TrimPrefix(id, secret.LegacyPrefix)
	if len(h) != 16 {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// publicID is the id a token is shown and addressed by.
func publicID(t store.Token) string {
	if t.Legacy {
		return secret.LegacyID(t.Hash)
	}
	return t.UUID
}

func (s *Service) view(t store.Token, now int64) View {
	groups := t.Groups
	if groups == nil {
		groups = []string{}
	}
	expired := t.Expiration != 0 && now >= t.Expiration
	status := StatusActive
	switch {
	case t.Disabled:
		status = StatusDisabled
	case expired:
		status = StatusExpired
	case t.RotatedTo != "":
		status = StatusRotated
	}
	return View{
		Status:          status,
		Disabled:        t.Disabled,
		DisabledBy:      t.DisabledBy,
		DisabledByAdmin: t.DisabledByAdmin,
		DisabledAt:      t.DisabledAt,
		UpdatedAt:       t.UpdatedAt,
		LastUsedAt:      t.LastUsedAt,
		RotatedFrom:     t.RotatedFrom,
		RotatedTo:       t.RotatedTo,
		TokenUUID:       publicID(t),
		TokenExpiration: t.Expiration,
		CreatedDate:     t.CreatedDate,
		Username:        t.Username,
		CreatedBy:       t.CreatedBy,
		CreatedVia:      t.CreatedVia,
		Name:            t.Name,
		Groups:          groups,
		IsSystemToken:   t.IsSystem,
		IsExpired:       expired,
		IsLegacy:        t.Legacy,
		Limits:          limitsOrNil(t.Limits),
		EffectiveLimits: effectiveOf(s, t),
		UsageKey:        usageKeyView(t),
	}
}

// usageKeyView is t's usage key as views show it: only when it is not
// t's own UUID.
func usageKeyView(t store.Token) string {
	if t.UsageKey != t.UUID {
		return t.UsageKey
	}
	return ""
}

func limitsOrNil(l *limits.Limits) *limits.Limits {
	if l == nil || l.IsZero() {
		return nil
	}
	return l
}

func effectiveOf(s *Service, t store.Token) *limits.Limits {
	if t.Legacy {
		return nil
	}
	return s.effective(t.Limits, t.Groups)
}

// storeFailure hides store errors from callers (they name tables and SDK
// internals) while keeping them for the log.
func storeFailure(err error, op string) error {
	return apierr.Wrap(apierr.Unavailable, fmt.Errorf("%s: %w", op, err), "token store unavailable, try again")
}
