package localstack

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/llmgw/apitokens/pkg/authorizer"
	"github.com/llmgw/apitokens/pkg/routes"
)

// Identifiers the local gateway puts in events, shaped like real ones.
const (
	localRegion  = "us-east-1"
	localAccount = "000000000000"
	localAPIID   = "local"
	localStage   = "local"
	maxPayload   = routes.MaxAPIGatewayPayloadBytes
)

// ProxyHandler is a Lambda handler for API Gateway REST proxy events.
type ProxyHandler func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)

// Gateway does locally what API Gateway does in front of the token
// functions: route with the shared route table, call the REQUEST
// authorizer, honour its policy, and call the function with a proxy event
// that carries the authorizer context.
type Gateway struct {
	Authorizer authorizer.Handler
	Functions  map[string]ProxyHandler // by routes.Fn* name
	Logger     *slog.Logger
}

// gatewayError writes API Gateway's own error shape.
func gatewayError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-amzn-ErrorType", http.StatusText(status))
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	reqID := uuid.NewString()
	w.Header().Set("x-amzn-RequestId", reqID)
	// API Gateway matches resources on the path as sent and decodes each
	// path parameter: /api-tokens/%2F is the resource /api-tokens/{id}
	// with id "/", not /api-tokens/.
	route, params, _ := routes.Match(r.Method, r.URL.EscapedPath())
	for k, v := range params {
		dv, err := url.PathUnescape(v)
		if err != nil {
			gatewayError(w, http.StatusBadRequest, "Bad Request")
			return
		}
		params[k] = dv
	}
	if route.Function == "" {
		// API Gateway answers unknown resources and methods with its
		// MISSING_AUTHENTICATION_TOKEN response, which the CDK app turns
		// into this 404.
		gatewayError(w, http.StatusNotFound, "Not Found")
		return
	}
	fn := g.Functions[route.Function]
	if fn == nil {
		gatewayError(w, http.StatusNotImplemented, "function "+route.Function+" is not available in this build")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
	if err != nil {
		gatewayError(w, http.StatusBadRequest, "could not read request body")
		return
	}
	if len(body) > maxPayload {
		gatewayError(w, http.StatusRequestEntityTooLarge, "Request Too Long")
		return
	}
	single, multi := headerMaps(r.Header)
	qs, mqs := queryMaps(r)
	methodArn := "arn:aws:execute-api:" + localRegion + ":" + localAccount + ":" + localAPIID + "/" + localStage + "/" + route.Method + route.Resource
	methodArn = strings.ReplaceAll(methodArn, "{"+routes.PathParam+"}", params[routes.PathParam])

	authResp, err := g.Authorizer(ctx, events.APIGatewayCustomAuthorizerRequestTypeRequest{
		Type: "REQUEST", MethodArn: methodArn, Resource: route.Resource, Path: r.URL.Path, HTTPMethod: r.Method,
		Headers: single, MultiValueHeaders: multi, QueryStringParameters: qs, MultiValueQueryStringParameters: mqs,
		PathParameters: params,
		RequestContext: events.APIGatewayCustomAuthorizerRequestTypeRequestContext{
			Path: "/" + localStage + r.URL.Path, AccountID: localAccount, Stage: localStage, RequestID: reqID,
			ResourcePath: route.Resource, HTTPMethod: r.Method, APIID: localAPIID,
			Identity: events.APIGatewayCustomAuthorizerRequestTypeRequestIdentity{SourceIP: sourceIP(r)},
		},
	})
	switch {
	case err != nil && err.Error() == authorizer.ErrUnauthorized.Error():
		gatewayError(w, http.StatusUnauthorized, "Unauthorized")
		return
	case err != nil:
		g.log().ErrorContext(ctx, "gateway: authorizer error", slog.String("requestId", reqID), slog.String("error", err.Error()))
		gatewayError(w, http.StatusInternalServerError, "Internal server error")
		return
	case !allows(authResp.PolicyDocument, methodArn):
		gatewayError(w, http.StatusForbidden, "User is not authorized to access this resource")
		return
	}

	authCtx := map[string]interface{}{"principalId": authResp.PrincipalID}
	for k, v := range authResp.Context {
		authCtx[k] = v
	}
	ev := events.APIGatewayProxyRequest{
		Resource: route.Resource, Path: r.URL.Path, HTTPMethod: r.Method,
		Headers: single, MultiValueHeaders: multi, QueryStringParameters: qs, MultiValueQueryStringParameters: mqs,
		PathParameters: params,
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID: localAccount, ResourceID: route.Resource, Stage: localStage, RequestID: reqID,
			ResourcePath: route.Resource, Authorizer: authCtx, HTTPMethod: r.Method, APIID: localAPIID,
			RequestTimeEpoch: time.Now().UnixMilli(),
			Identity:         events.APIGatewayRequestIdentity{SourceIP: sourceIP(r), UserAgent: r.UserAgent()},
		},
	}
	if utf8.Valid(body) {
		ev.Body = string(body)
	} else {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	resp, err := fn(ctx, ev)
	if err != nil {
		g.log().ErrorContext(ctx, "gateway: function error", slog.String("requestId", reqID), slog.String("error", err.Error()))
		gatewayError(w, http.StatusBadGateway, "Internal server error")
		return
	}
	writeProxyResponse(w, resp)
}

func (g *Gateway) log() *slog.Logger {
	if g.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return g.Logger
}

// allows evaluates the authorizer's policy the way API Gateway does for
// execute-api:Invoke: an explicit Deny wins, otherwise an Allow whose
// resource pattern matches the method ARN is needed.
func allows(doc events.APIGatewayCustomAuthorizerPolicy, methodArn string) bool {
	allowed := false
	for _, st := range doc.Statement {
		if !matchesAny(st.Action, "execute-api:Invoke") || !matchesAny(st.Resource, methodArn) {
			continue
		}
		switch st.Effect {
		case "Deny":
			return false
		case "Allow":
			allowed = true
		}
	}
	return allowed
}

// matchesAny reports whether s matches one of the IAM patterns, where '*'
// matches any run of characters (slashes included) and '?' any one.
func matchesAny(patterns []string, s string) bool {
	for _, p := range patterns {
		re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(p)) + "$"
		if ok, _ := regexp.MatchString(re, s); ok {
			return true
		}
	}
	return false
}

func headerMaps(h http.Header) (map[string]string, map[string][]string) {
	single := make(map[string]string, len(h))
	multi := make(map[string][]string, len(h))
	for k, vs := range h {
		if len(vs) == 0 {
			continue
		}
		single[k] = vs[len(vs)-1]
		multi[k] = append([]string(nil), vs...)
	}
	return single, multi
}

func queryMaps(r *http.Request) (map[string]string, map[string][]string) {
	q := r.URL.Query()
	single := make(map[string]string, len(q))
	multi := make(map[string][]string, len(q))
	for k, vs := range q {
		single[k] = vs[len(vs)-1]
		multi[k] = vs
	}
	return single, multi
}

func sourceIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndex(host, ":"); i > 0 {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

func writeProxyResponse(w http.ResponseWriter, resp events.APIGatewayProxyResponse) {
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err == nil {
			_, _ = w.Write(b)
		}
		return
	}
	_, _ = io.WriteString(w, resp.Body)
}
