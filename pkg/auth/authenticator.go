package auth

import (
	"context"
	"net/http"
)

// Authenticator turns request headers into a Principal. Refusals are
// *apierr.Error of kind Unauthenticated (with a reason Code); infrastructure
// failures are of kind Unavailable or Internal. It never returns a Principal
// together with an error.
type Authenticator interface {
	Authenticate(ctx context.Context, h http.Header) (Principal, error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(ctx context.Context, h http.Header) (Principal, error)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(ctx context.Context, h http.Header) (Principal, error) {
	return f(ctx, h)
}
