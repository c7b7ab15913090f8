package tokensvc

import (
	"fmt"
	"math"
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
	// ExpiresIn is an alternative to TokenExpiration: a duration from now
	// such as "90d", "12h", "30m", "2w", "1y" or "1h30m" (parseExpiresIn).
	ExpiresIn *string `json:"expiresIn"`
	// Limits are the token's own limits (a limits.Limits object; null or
	// absent: none). Admins set any; anyone else, or any caller acting
	// with an API token, no more than the token would get without them.
	Limits limitsField `json:"limits"`
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

// expiresInUnits are the units of expiresIn, largest first, in seconds.
// A year is 365 days; "m" is minutes, as in "1h30m".
var expiresInUnits = [...]struct {
	unit    byte
	seconds int64
}{{'y', 365 * 86400}, {'w', 7 * 86400}, {'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}}

// maxExpiresInDigits bounds each number of expiresIn, so that the sum,
// computed in int64 seconds, cannot overflow: 6 components of at most
// 999,999 years are about 2e14 seconds.
const maxExpiresInDigits = 6

// badSpan is the refusal of a duration field (expiresIn, gracePeriod)
// that does not parse: what is wrong, then the accepted forms.
func badSpan(field, what string) error {
	return apierr.New(apierr.Invalid, "%s %s: use a number and a unit (y = 365 days, w, d, h, m = minutes, s), "+
		"or several, largest unit first, each once: \"90d\", \"12h\", \"30m\", \"2w\", \"1y\", \"1h30m\", \"1d12h\"", field, what).WithCode(spanCode(field))
}

func spanCode(field string) string {
	if field == "gracePeriod" {
		return "invalid_grace_period"
	}
	return "invalid_expires_in"
}

// parseExpiresIn turns "90d", "12h", "1h30m", "2w3d" or "3600s" into a
// duration of at most maxDays days. Surrounding whitespace is ignored and
// units may be upper-case. Each unit appears at most once, largest first,
// each number has at most maxExpiresInDigits digits, and the bound is
// checked in integer seconds before any conversion to time.Duration, so
// no input can overflow into a short or negative lifetime.
func parseExpiresIn(s string, maxDays int) (time.Duration, error) {
	total, err := parseSpan("expiresIn", s)
	if err != nil {
		return 0, err
	}
	if total == 0 {
		return 0, apierr.New(apierr.Invalid, "expiresIn must be greater than zero").WithCode("invalid_expires_in")
	}
	// Compared as whole days and a remainder, so that even an absurd
	// maxDays cannot overflow the bound; and never beyond what a
	// time.Duration holds (about 292 years), whatever maxDays says.
	if days := total / 86400; days > int64(maxDays) || days == int64(maxDays) && total%86400 != 0 || total > math.MaxInt64/int64(time.Second) {
		return 0, apierr.New(apierr.Invalid, "expiresIn is beyond the maximum token lifetime of %d days", maxDays).WithCode("invalid_expires_in")
	}
	return time.Duration(total) * time.Second, nil
}

// parseSpan parses the duration grammar of parseExpiresIn into whole
// seconds (at most about 2e14, so no sum overflows); zero is allowed here
// and refused by callers that need more. field names the field in errors.
func parseSpan(field, s string) (int64, error) {
	badExpiresIn := func(what string) error { return badSpan(field, what) }
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, badExpiresIn("is empty")
	}
	var total int64
	next := 0 // the index in expiresInUnits of the largest unit still allowed
	for s != "" {
		i := 0
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		switch {
		case i == 0:
			return 0, badExpiresIn("must start each part with a whole number")
		case i == len(s):
			return 0, badExpiresIn("has a number without a unit")
		case i > maxExpiresInDigits:
			return 0, badExpiresIn(fmt.Sprintf("allows at most %d digits per number", maxExpiresInDigits))
		}
		n, _ := strconv.ParseInt(s[:i], 10, 64) // at most 6 digits: cannot fail
		c := s[i]
		if c == '.' || c == ',' {
			return 0, badExpiresIn("must use whole numbers (\"1d12h\", not \"1.5d\")")
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		u := -1
		for k, e := range expiresInUnits {
			if e.unit == c {
				u = k
			}
		}
		switch {
		case u < 0 || i+1 < len(s) && isLetter(s[i+1]):
			return 0, badExpiresIn("has an unknown unit")
		case u < next:
			return 0, badExpiresIn("repeats a unit or puts a smaller one first")
		}
		next = u + 1
		total += n * expiresInUnits[u].seconds
		s = s[i+1:]
	}
	return total, nil
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

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
		return 0, apierr.New(apierr.Invalid, "tokenExpiration must be in the future: it is a Unix time in seconds; for a duration from now, send expiresIn such as \"90d\"")
	}
	if exp > max {
		hint := ""
		if exp/1000 > now.Unix() && exp/1000 <= max {
			hint = "; tokenExpiration is in Unix seconds, and this looks like milliseconds"
		}
		return 0, apierr.New(apierr.Invalid, "tokenExpiration is beyond the maximum token lifetime of %d days (latest allowed: %d)%s", s.cfg.MaxTokenDays, max, hint)
	}
	if ceiling != 0 && exp > ceiling {
		field := "tokenExpiration"
		if req.ExpiresIn != nil {
			field = "expiresIn"
		}
		return 0, apierr.New(apierr.Invalid, "%s is after the expiry of the API token making this request (%d): a token cannot outlive the token that creates it (sign in to create a longer-lived one)", field, ceiling).WithCode("outlives_creator")
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
