package tokensvc

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/limits"
)

// limitsField is the "limits" member of a create or PATCH body, as sent:
// nil when absent, "null" when sent as null.
type limitsField = json.RawMessage

// parseLimits reads the "limits" of a body. set is false when the field
// is absent; l is nil for null, {} or an object that sets nothing (no
// limits of the token's own). The decoding is strict as for the rest of
// the body: an unknown field, a wrong type or trailing data is a 422; a
// value out of bounds is a 400 that names the field.
func parseLimits(raw limitsField) (l *limits.Limits, set bool, err error) {
	if raw == nil {
		return nil, false, nil
	}
	trimmed := bytes.TrimSpace(raw)
	if bytes.Equal(trimmed, []byte("null")) {
		return nil, true, nil
	}
	var v limits.Limits
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return nil, true, apierr.New(apierr.Unprocessable, "invalid request body: limits: %s", describeLimitsError(err)).WithCode("invalid_json")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		// Not reachable from a body the outer decoder accepted.
		return nil, true, apierr.New(apierr.Unprocessable, "invalid request body: limits: unexpected data after the object").WithCode("invalid_json")
	}
	if err := v.Validate("limits"); err != nil {
		return nil, true, apierr.New(apierr.Invalid, "%s", err.Error()).WithCode("invalid_limits")
	}
	if v.IsZero() {
		return nil, true, nil
	}
	return &v, true, nil
}

func describeLimitsError(err error) string {
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te) && te.Field != "":
		return "field " + quote(te.Field) + " must be a number, not " + te.Value
	case errors.As(err, &te):
		return "must be an object or null, not " + te.Value
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ") +
			" (known: requestsPerMinute, requestsPerHour, requestsPerDay, tokensPerDay, tokensPerMonth, budgetPerMonth)"
	}
	return "malformed JSON"
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

// boundByPolicy reports whether caller's changes to limits are held to
// the deployment's policy: an admin signed in sets any limits; anyone
// else, and any caller acting with an API token (which never out-ranks
// the credential behind it), may only keep or lower a token's effective
// limits.
func boundByPolicy(caller auth.Principal) bool {
	return !caller.IsAdmin || caller.AuthType == auth.AuthAPIToken
}

// checkNotRaised refuses next when it allows more than cur in any field.
func checkNotRaised(cur, next limits.Limits, what string) error {
	if field, raised := limits.Raises(cur, next); raised {
		return apierr.New(apierr.Invalid, "limits.%s: %s (only an admin, signed in, can raise limits)", field, what).WithCode("limits_raised")
	}
	return nil
}

// effective are the limits that apply to t under the deployment's
// policy; nil when none does (and for legacy items, which are never
// accepted as a credential).
func (s *Service) effective(own *limits.Limits, groups []string) *limits.Limits {
	// Always an object, {} when nothing applies, so that clients can tell
	// "no limit" from a server that knows nothing of limits.
	l := s.cfg.Limits.Resolve(own, groups)
	return &l
}

func cloneLimits(l *limits.Limits) *limits.Limits {
	if l == nil {
		return nil
	}
	c := *l
	return &c
}
