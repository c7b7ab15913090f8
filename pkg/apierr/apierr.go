// Package apierr is the project's one error vocabulary. Every failure a
// caller can see is an *Error with a Kind; Status is the single table that
// turns a Kind into an HTTP status code, for the token API, the authorizer's
// local gateway and the serve path alike.
package apierr

import (
	"errors"
	"fmt"
	"net/http"
)

// Kind classifies an error by what the caller should do about it.
type Kind int

// Kinds, in the order of the status table below.
const (
	Internal         Kind = iota // a bug or an unexpected failure; text hidden from callers
	Invalid                      // 400: the request is understood but not acceptable
	Unauthenticated              // 401: no usable credential, or an operation only admins may do (documented as 401)
	Forbidden                    // 403: authenticated, but not allowed
	NotFound                     // 404: missing, or not the caller's (no enumeration)
	Unprocessable                // 422: malformed JSON or wrong types
	TooLarge                     // 413: request body over the limit
	Unavailable                  // 503: a dependency (DynamoDB, the OIDC issuer) cannot be reached
	BadGateway                   // 502: the model upstream failed or answered unusably
	GatewayTimeout               // 504: the model upstream did not answer in time
	NotImplemented               // 501: route exists but has no handler in this build
	MethodNotAllowed             // 405
	Conflict                     // 409: another change won a race; read again and retry
)

var statusOf = map[Kind]int{
	Internal:         http.StatusInternalServerError,
	Invalid:          http.StatusBadRequest,
	Unauthenticated:  http.StatusUnauthorized,
	Forbidden:        http.StatusForbidden,
	NotFound:         http.StatusNotFound,
	Unprocessable:    http.StatusUnprocessableEntity,
	TooLarge:         http.StatusRequestEntityTooLarge,
	Unavailable:      http.StatusServiceUnavailable,
	BadGateway:       http.StatusBadGateway,
	GatewayTimeout:   http.StatusGatewayTimeout,
	NotImplemented:   http.StatusNotImplemented,
	MethodNotAllowed: http.StatusMethodNotAllowed,
	Conflict:         http.StatusConflict,
}

// Error is an error a caller may see. Message is safe to show; Err, if set,
// is the underlying cause, logged but never shown.
type Error struct {
	Kind    Kind
	Message string
	// Code is a short machine-readable reason ("malformed_token",
	// "model_not_allowed", ...) used in logs and OpenAI-shaped bodies.
	Code string
	Err  error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an *Error of kind k with a caller-visible message.
func New(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// WithCode sets the machine-readable reason and returns e.
func (e *Error) WithCode(code string) *Error { e.Code = code; return e }

// Wrap returns an *Error of kind k whose message is shown and whose cause is
// kept for logs only.
func Wrap(k Kind, err error, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...), Err: err}
}

// KindOf returns the Kind of err: the Kind of the first *Error in its chain,
// or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Status is the one place an error becomes an HTTP status code.
func Status(err error) int {
	if s, ok := statusOf[KindOf(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Message is the text a caller may see for err. Internal errors, and errors
// that are not *Error, show a generic message so that no internal detail
// (table names, SDK errors) leaks.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Kind != Internal {
		return e.Message
	}
	return "Internal server error"
}

// CodeOf returns the machine-readable reason of err, or "" if it has none.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
