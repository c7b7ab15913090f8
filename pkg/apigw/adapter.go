// Package apigw is the API Gateway adapter of the token API: it turns REST
// proxy events into calls of the token service (reading the caller from the
// authorizer context and deciding API-token calls afresh, limiting and
// decoding bodies) and writes every answer as JSON, errors through the one
// status table in apierr. Each function under functions/ is one line of it,
// and the local gateway serves the same handlers.
package apigw

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/routes"
	"github.com/llmgw/apitokens/pkg/tokensvc"
)

// MaxBodyBytes caps request bodies (routes.MaxTokenAPIBodyBytes).
const MaxBodyBytes = routes.MaxTokenAPIBodyBytes

// Request is what a handler needs from an API Gateway proxy event.
type Request struct {
	Principal auth.Principal
	Method    string            // the HTTP method, for functions that serve more than one
	PathID    string            // the {id} path parameter, "" if absent
	Query     map[string]string // single-value query parameters
	Body      []byte
	RequestID string
	// Origin is where the call came from, for the audit trail: API
	// Gateway's view of the source IP and the User-Agent.
	Origin tokensvc.Origin
}

// Response is a successful answer; Body is encoded as JSON.
type Response struct {
	Status int
	Body   any
}

// Handler serves one route.
type Handler func(ctx context.Context, r Request) (Response, error)

// Adapt turns h into an API Gateway proxy handler for lambda.Start.
//
// fresh re-decides every call made with an API token from the request's
// own headers, with a strongly consistent read (an auth.Core with
// FreshTokens): the token API never acts on a decision made earlier, by
// an authorizer result cache or a warm authorizer, so a token deleted a
// moment ago cannot act again. Calls made with a JWT are taken from the
// authorizer context as they are (a JWT cannot be revoked). A nil fresh
// refuses every API-token call.
func Adapt(h Handler, fresh auth.Authenticator, logger *slog.Logger) func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		reqID := ev.RequestContext.RequestID
		log := logger.With(slog.String("requestId", reqID), slog.String("method", ev.HTTPMethod), slog.String("resource", ev.Resource))
		r, err := request(ctx, ev, fresh)
		if err == nil {
			log = log.With(slog.String("caller", r.Principal.Username))
			var resp Response
			resp, err = h(tokensvc.WithOrigin(ctx, r.Origin), r)
			if err == nil {
				log.InfoContext(ctx, "request served", slog.Int("status", resp.Status))
				return JSON(resp.Status, resp.Body), nil
			}
		}
		return Error(ctx, log, err), nil
	}
}

func request(ctx context.Context, ev events.APIGatewayProxyRequest, fresh auth.Authenticator) (Request, error) {
	p, err := auth.PrincipalFromContext(ev.RequestContext.Authorizer)
	if err != nil {
		// Only reachable if the function is invoked without the authorizer:
		// refuse rather than guess who the caller is.
		return Request{}, apierr.Wrap(apierr.Unauthenticated, err, "Unauthorized")
	}
	if p.AuthType == auth.AuthAPIToken {
		if p, err = reauthenticate(ctx, ev, p, fresh); err != nil {
			return Request{}, err
		}
	}
	body, err := Body(ev.Body, ev.IsBase64Encoded)
	if err != nil {
		return Request{}, err
	}
	return Request{
		Principal: p,
		Method:    ev.HTTPMethod,
		PathID:    ev.PathParameters[routes.PathParam],
		Query:     ev.QueryStringParameters,
		Body:      body,
		RequestID: ev.RequestContext.RequestID,
		Origin:    tokensvc.Origin{SourceIP: ev.RequestContext.Identity.SourceIP, UserAgent: ev.RequestContext.Identity.UserAgent},
	}, nil
}

// reauthenticate decides an API-token call again from its headers and
// returns the principal as the table holds it now.
func reauthenticate(ctx context.Context, ev events.APIGatewayProxyRequest, p auth.Principal, fresh auth.Authenticator) (auth.Principal, error) {
	if fresh == nil {
		return auth.Principal{}, apierr.New(apierr.Internal, "token function built without a fresh authenticator")
	}
	now, err := fresh.Authenticate(ctx, auth.EventHeaders(ev.Headers, ev.MultiValueHeaders))
	if err != nil {
		return auth.Principal{}, err
	}
	if now.AuthType != auth.AuthAPIToken || now.TokenUUID != p.TokenUUID {
		return auth.Principal{}, apierr.New(apierr.Unauthenticated, "Unauthorized").WithCode("credential_mismatch")
	}
	return now, nil
}

// Body returns the raw request body, refusing one over MaxBodyBytes.
func Body(body string, isBase64 bool) ([]byte, error) {
	tooLarge := apierr.New(apierr.TooLarge, "request body is larger than %d bytes", MaxBodyBytes).WithCode("body_too_large")
	if !isBase64 {
		if len(body) > MaxBodyBytes {
			return nil, tooLarge
		}
		return []byte(body), nil
	}
	if base64.StdEncoding.DecodedLen(len(body)) > MaxBodyBytes+3 {
		return nil, tooLarge
	}
	b, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, apierr.New(apierr.Unprocessable, "request body is not valid base64")
	}
	if len(b) > MaxBodyBytes {
		return nil, tooLarge
	}
	return b, nil
}

// DecodeJSON decodes a JSON object body into v. Malformed JSON, wrong
// types, unknown fields and trailing data are 422 with a message that names
// the problem; an empty body is an empty object.
func DecodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	// encoding/json would turn invalid UTF-8 into U+FFFD and store that.
	if !utf8.Valid(body) {
		return apierr.New(apierr.Unprocessable, "invalid request body: not valid UTF-8").WithCode("invalid_json")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return apierr.New(apierr.Unprocessable, "invalid request body: %s", describeJSONError(err)).WithCode("invalid_json")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apierr.New(apierr.Unprocessable, "invalid request body: unexpected data after the JSON object").WithCode("invalid_json")
	}
	return nil
}

func describeJSONError(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("field %q must be %s, not %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		}
		return fmt.Sprintf("expected a JSON object, not %s", te.Value)
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d", se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: unexpected end of input"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "malformed JSON"
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int64", "int", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice":
		return "a list"
	case "ptr":
		return "a value of another type"
	}
	return "a value of another type"
}

var jsonHeaders = map[string]string{
	"Content-Type": "application/json",
	// Token responses carry a secret once; no cache may keep them.
	"Cache-Control":          "no-store",
	"X-Content-Type-Options": "nosniff",
}

// JSON encodes body as a proxy response. <, > and & are written as they
// are, not as \u003c and the like: answers are JSON for API clients, never
// HTML, and a message such as "Bearer <token>" must read as written.
func JSON(status int, body any) events.APIGatewayProxyResponse {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	b := []byte(`{"message":"Internal server error"}`)
	if err := enc.Encode(body); err != nil {
		status = 500
	} else {
		b = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	h := make(map[string]string, len(jsonHeaders))
	for k, v := range jsonHeaders {
		h[k] = v
	}
	return events.APIGatewayProxyResponse{StatusCode: status, Headers: h, Body: string(b)}
}

// ErrorBody is the JSON shape of every error answer of the token API.
type ErrorBody struct {
	Message string `json:"message"`
}

// Error writes err as {"message": ...} with the status from apierr.Status.
// Server-side failures are logged with their cause; the caller sees only
// the safe message.
func Error(ctx context.Context, log *slog.Logger, err error) events.APIGatewayProxyResponse {
	status := apierr.Status(err)
	attrs := []any{slog.Int("status", status), slog.String("reason", apierr.CodeOf(err))}
	if status >= 500 {
		log.ErrorContext(ctx, "request failed", append(attrs, slog.String("error", err.Error()))...)
	} else {
		log.InfoContext(ctx, "request refused", append(attrs, slog.String("message", apierr.Message(err)))...)
	}
	return JSON(status, ErrorBody{Message: apierr.Message(err)})
}
