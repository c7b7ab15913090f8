package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/llmgw/apitokens/pkg/apierr"
)

// ErrorResponse is OpenAI's error shape, the body of every error answer of
// the serve path: SDKs turn it into a typed error (openai.Error in Go,
// openai.APIStatusError in Python) that shows Message and Code.
type ErrorResponse struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the "error" member of ErrorResponse.
type ErrorDetail struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"` // the request field at fault, or null
	Code    string  `json:"code"`
}

// Error types, as OpenAI names them.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeAuthentication = "authentication_error"
	TypePermission     = "permission_error"
	TypeAPI            = "api_error"
)

// CodeInvalidAPIKey is the code of a 401 whose credential is not a valid
// key at all, as OpenAI answers a bad key: not shaped like a token,
// unknown or revoked, or a JWT that cannot be verified. Every other
// refusal keeps the decision core's reason code (expired_token,
// not_in_user_group, jwt_expired, ...), since SDKs show code and message
// and "invalid key" would send the caller looking in the wrong place.
const CodeInvalidAPIKey = "invalid_api_key"

// invalidKey lists the decision core's reason codes that mean the
// credential is not a valid key. A refusal without a code is one too.
var invalidKey = map[string]bool{
	"":                     true,
	"malformed_token":      true, // not shaped like an API token
	"malformed_credential": true, // too long to be a credential
	"unknown_token":        true, // unknown or revoked
	"jwt_malformed":        true,
	"jwt_bad_signature":    true,
	"jwt_unknown_kid":      true, // signed with a key the issuer does not publish
	"jwt_alg_not_allowed":  true, // unsigned or HMAC: cannot be verified
}

// authCode is the OpenAI code of an authentication refusal with the
// decision core's reason code.
func authCode(reason string) string {
	if invalidKey[reason] {
		return CodeInvalidAPIKey
	}
	return reason
}

// errorDetail maps err to the OpenAI error fields. The status is not
// chosen here: it is apierr.Status(err).
func errorDetail(err error) ErrorDetail {
	var le *limitError
	if errors.As(err, &le) {
		return ErrorDetail{Message: le.message(), Type: le.typ(), Code: le.code()}
	}
	d := ErrorDetail{Message: apierr.Message(err), Code: apierr.CodeOf(err)}
	switch apierr.KindOf(err) {
	case apierr.Unauthenticated:
		d.Type, d.Code = TypeAuthentication, authCode(d.Code)
	case apierr.Forbidden:
		d.Type = TypePermission
	case apierr.Invalid, apierr.Unprocessable, apierr.TooLarge, apierr.NotFound, apierr.MethodNotAllowed:
		d.Type = TypeInvalidRequest
	default:
		d.Type = TypeAPI
	}
	if d.Code == "" || apierr.KindOf(err) == apierr.Internal {
		d.Code = defaultCode(apierr.Status(err))
	}
	var p *paramError
	if errors.As(err, &p) {
		d.Param = &p.param
	}
	return d
}

// paramError names the request field an error is about: OpenAI's "param",
// which SDKs show. Kind, message and code stay those of the wrapped error.
type paramError struct {
	param string
	err   error
}

func (e *paramError) Error() string { return e.err.Error() }
func (e *paramError) Unwrap() error { return e.err }

// withParam returns err naming the request field param.
func withParam(param string, err error) error { return &paramError{param: param, err: err} }

func defaultCode(status int) string {
	switch status {
	case http.StatusServiceUnavailable:
		return "service_unavailable"
	case http.StatusInternalServerError:
		return "internal_error"
	}
	return "error"
}

// writeError answers err in OpenAI's shape with the status from the one
// table, apierr.Status; a limit's refusal (limitError) is 429.
func (h *Handler) writeError(c *call, err error) {
	status := apierr.Status(err)
	var le *limitError
	if errors.As(err, &le) {
		status = http.StatusTooManyRequests
	}
	// <, > and & as written ("Bearer <token>"), not as \u003c and the
	// like: the body is JSON for SDKs, never HTML.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	body := []byte(`{"error":{"message":"Internal server error","type":"api_error","param":null,"code":"internal_error"}}`)
	if enc.Encode(ErrorResponse{Error: errorDetail(err)}) == nil { // cannot fail: strings only
		body = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	c.status, c.err, c.bytes = status, err, len(body)
	hdr := c.w.Header()
	hdr.Set("Content-Type", "application/json")
	if status == http.StatusUnauthorized {
		hdr.Set("WWW-Authenticate", `Bearer realm="serve"`)
	}
	c.w.WriteHeader(status)
	_, _ = c.w.Write(body)
}

// reasonOf is the code of err for the log line.
func reasonOf(err error) string {
	var le *limitError
	if errors.As(err, &le) {
		return le.code()
	}
	return apierr.CodeOf(err)
}
