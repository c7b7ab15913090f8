package tokensvc

import (
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/llmgw/apitokens/pkg/apierr"
)

// Limits on caller-supplied values.
const (
	MaxNameLen     = 128 // characters
	MaxGroups      = 50
	MaxGroupLen    = 256 // characters
	MaxUsernameLen = 128 // characters
	MaxListLimit   = 1000
	DefaultLimit   = 100
)

// CreateRequest is the body of POST /api-tokens/ and POST /api-tokens/{username}.
// Pointer fields distinguish "absent" from "zero": a self-service request
// that sends groups at all is refused, whatever the value.
type CreateRequest struct {
	Name            *string   `json:"name"`
	Groups          *[]string `json:"groups"`
	IsSystemToken   *bool     `json:"isSystemToken"`
	TokenExpiration *int64    `json:"tokenExpiration"`
	// ExpiresIn is an alternative to TokenExpiration: a duration such as
	// "90d", "12h" or "30m" from now.
	ExpiresIn *string `json:"expiresIn"`
}

func validateName(p *string) (string, error) {
	if p == nil {
		return "", apierr.New(apierr.Invalid, "name is required")
	}
	name := strings.TrimSpace(*p)
	if name == "" {
		return "", apierr.New(apierr.Invalid, "name must not be empty")
	}
	if utf8.RuneCountInString(name) > MaxNameLen {
		return "", apierr.New(apierr.Invalid, "name must be at most %d characters", MaxNameLen)
	}
	if hasControl(name) {
		return "", apierr.New(apierr.Invalid, "name must not contain control characters")
	}
	return name, nil
}

func validateGroups(p *[]string) ([]string, error) {
	if p == nil || *p == nil {
		return []string{}, nil
	}
	in := *p
	if len(in) > MaxGroups {
		return nil, apierr.New(apierr.Invalid, "groups must hold at most %d entries", MaxGroups)
	}
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for i, g := range in {
		if strings.TrimSpace(g) == "" {
			return nil, apierr.New(apierr.Invalid, "groups[%d] must be a non-empty string", i)
		}
		if utf8.RuneCountInString(g) > MaxGroupLen || hasControl(g) {
			return nil, apierr.New(apierr.Invalid, "groups[%d] must be at most %d printable characters", i, MaxGroupLen)
		}
		if !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	return out, nil
}

// validateUsername checks that s can name a token owner: 1..128 printable
// characters without whitespace or '/'.
func validateUsername(s string) (string, error) {
	if s == "" {
		return "", apierr.New(apierr.Invalid, "username must not be empty")
	}
	if utf8.RuneCountInString(s) > MaxUsernameLen {
		return "", apierr.New(apierr.Invalid, "username must be at most %d characters", MaxUsernameLen)
	}
	if !utf8.ValidString(s) {
		return "", apierr.New(apierr.Invalid, "username must be valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == '/' {
			return "", apierr.New(apierr.Invalid, "username must not contain whitespace, control characters or '/'")
		}
	}
	return s, nil
}

func hasControl(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}

var expiresInRE = regexp.MustCompile(`^([0-9]{1,6})([dhm])$`)

// parseExpiresIn turns "90d", "12h" or "30m" into a duration of at most
// maxDays days. The bound is checked in minutes before any conversion, so
// no value can overflow into a short or negative duration.
func parseExpiresIn(s string, maxDays int) (time.Duration, error) {
	m := expiresInRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, apierr.New(apierr.Invalid, "expiresIn must look like \"90d\", \"12h\" or \"30m\"")
	}
	n, _ := strconv.ParseInt(m[1], 10, 64) // at most 6 digits: cannot fail
	if n == 0 {
		return 0, apierr.New(apierr.Invalid, "expiresIn must be greater than zero")
	}
	perUnit := map[string]int64{"d": 24 * 60, "h": 60, "m": 1}[m[2]]
	if n*perUnit > int64(maxDays)*24*60 {
		return 0, apierr.New(apierr.Invalid, "expiresIn is beyond the maximum token lifetime of %d days", maxDays)
	}
	return time.Duration(n*perUnit) * time.Minute, nil
}

// expiration resolves the requested expiry into Unix seconds. ceiling, if
// not 0, is the latest expiry the caller's credential allows: an explicit
// later one is refused, the default is lowered to it.
func (s *Service) expiration(req CreateRequest, now time.Time, ceiling int64) (int64, error) {
	if req.TokenExpiration != nil && req.ExpiresIn != nil {
		return 0, apierr.New(apierr.Invalid, "send either tokenExpiration or expiresIn, not both")
	}
	max := now.Add(time.Duration(s.cfg.MaxTokenDays) * 24 * time.Hour).Unix()
	var exp int64
	switch {
	case req.TokenExpiration != nil:
		exp = *req.TokenExpiration
	case req.ExpiresIn != nil:
		d, err := parseExpiresIn(*req.ExpiresIn, s.cfg.MaxTokenDays)
		if err != nil {
			return 0, err
		}
		exp = now.Add(d).Unix()
	default:
		exp = now.Add(time.Duration(s.cfg.DefaultTokenDays) * 24 * time.Hour).Unix()
		if ceiling != 0 && exp > ceiling {
			exp = ceiling
		}
	}
	if exp <= now.Unix() {
		return 0, apierr.New(apierr.Invalid, "tokenExpiration must be in the future")
	}
	if exp > max {
		return 0, apierr.New(apierr.Invalid, "tokenExpiration is beyond the maximum token lifetime of %d days (latest allowed: %d)", s.cfg.MaxTokenDays, max)
	}
	if ceiling != 0 && exp > ceiling {
		return 0, apierr.New(apierr.Invalid, "tokenExpiration is after the expiry of the API token making this request (%d): a token cannot outlive the token that creates it (sign in to create a longer-lived one)", ceiling).WithCode("outlives_creator")
	}
	return exp, nil
}

// ListRequest selects a page of tokens (GET /api-tokens/?limit=&nextToken=&username=).
type ListRequest struct {
	Username  string
	Limit     string
	NextToken string
}

func parseLimit(s string) (int, error) {
	if s == "" {
		return DefaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxListLimit {
		return 0, apierr.New(apierr.Invalid, "limit must be a whole number from 1 to %d", MaxListLimit)
	}
	return n, nil
}

// errBadID does not echo the value: a caller who pastes a secret where the
// id belongs must not see it again in a response or a log line.
var errBadID = apierr.New(apierr.Invalid, "not a token id: expected a token UUID or a legacy id (legacy-...)").WithCode("invalid_token_id")
