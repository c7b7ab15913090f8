// Package routes is the one definition of the public HTTP surface: which
// method and path reach which function. The CDK app builds the REST API and
// the ALB rule from it, and the local gateway routes with it, so local and
// deployed routing cannot differ.
package routes

import "strings"

// Function names; each is a folder under functions/ (or authorizer/) and a
// build output folder build/<name>/bootstrap.
const (
	FnCreate     = "create"
	FnList       = "list"
	FnGet        = "get"
	FnDelete     = "delete"
	FnSettings   = "settings"
	FnUpdate     = "update"
	FnRotate     = "rotate"
	FnEvents     = "events"
	FnUsage      = "usage"
	FnServe      = "serve"
	FnAuthorizer = "authorizer"
)

// PathParam is the REST API path parameter of /api-tokens/{id}. The create
// function reads it as a username, the others as a token UUID or legacy id.
const PathParam = "id"

// Route is one method on one REST API resource.
type Route struct {
	Method   string
	Resource string // API Gateway resource path, e.g. "/api-tokens/{id}"
	Function string
}

// APITokens are the routes of the token API (token management and its
// runtime settings), all behind the REQUEST authorizer.
var APITokens = []Route{
	{Method: "POST", Resource: "/api-tokens", Function: FnCreate},
	{Method: "GET", Resource: "/api-tokens", Function: FnList},
	{Method: "POST", Resource: "/api-tokens/{id}", Function: FnCreate},
	{Method: "GET", Resource: "/api-tokens/{id}", Function: FnGet},
	{Method: "DELETE", Resource: "/api-tokens/{id}", Function: FnDelete},
	{Method: "DELETE", Resource: "/api-tokens", Function: FnDelete}, // ?username=: every token of a user
	{Method: "PATCH", Resource: "/api-tokens/{id}", Function: FnUpdate},
	{Method: "POST", Resource: "/api-tokens/{id}/rotate", Function: FnRotate},
	{Method: "GET", Resource: "/api-tokens/{id}/events", Function: FnEvents},
	{Method: "GET", Resource: "/api-token-events", Function: FnEvents},
	{Method: "GET", Resource: "/api-tokens/{id}/usage", Function: FnUsage},
	{Method: "GET", Resource: "/api-token-usage", Function: FnUsage},
	{Method: "GET", Resource: "/settings", Function: FnSettings},
	{Method: "PUT", Resource: "/settings", Function: FnSettings},
}

// InTokenAPI reports whether path (as sent) lies under a top-level resource
// of APITokens ("/api-tokens", "/api-tokens/...", "/settings", ...): the
// part of a host that API Gateway, not the ALB or anything else, answers.
func InTokenAPI(path string) bool {
	for _, rt := range APITokens {
		top := "/" + strings.SplitN(strings.TrimPrefix(rt.Resource, "/"), "/", 2)[0]
		if path == top || strings.HasPrefix(path, top+"/") {
			return true
		}
	}
	return false
}

// Body limits of the token API, in one place. The serve path's limits are
// the ALB's, in pkg/albevent.
const (
	// MaxTokenAPIBodyBytes caps token API request bodies: a create body is
	// a few hundred bytes; anything much larger is a mistake or an attack.
	MaxTokenAPIBodyBytes = 16 << 10
	// MaxAPIGatewayPayloadBytes is API Gateway's own request limit, which
	// the local gateway enforces as well.
	MaxAPIGatewayPayloadBytes = 10 << 20
)

// ServePathPrefix is the ALB path prefix forwarded to the serve function;
// ServePathPattern is the listener-rule pattern for it.
const (
	ServePathPrefix  = "/v2/serve/"
	ServePathPattern = "/v2/serve/*"
)

// Match finds the route for method and path (a request path such as
// "/api-tokens/abc" or "/api-tokens/"). It returns the route, the path
// parameters, and whether the path exists at all (so callers can tell 404
// from 405).
func Match(method, path string) (r Route, params map[string]string, pathExists bool) {
	for _, rt := range APITokens {
		p, ok := matchResource(rt.Resource, path)
		if !ok {
			continue
		}
		pathExists = true
		if rt.Method == method {
			return rt, p, true
		}
	}
	return Route{}, nil, pathExists
}

// matchResource matches an API Gateway resource template against a path.
// A single trailing slash is ignored, as API Gateway does. A path parameter
// matches exactly one non-empty segment, and a path with any other empty
// segment ("//") matches nothing: it is not a resource, and must not be
// taken for a shorter one.
func matchResource(resource, path string) (map[string]string, bool) {
	if !strings.HasPrefix(path, "/") {
		return nil, false
	}
	path = path[1:]
	if path != "" {
		path = strings.TrimSuffix(path, "/")
	}
	rs := strings.Split(strings.Trim(resource, "/"), "/")
	ps := strings.Split(path, "/")
	if len(rs) != len(ps) {
		return nil, false
	}
	for _, seg := range ps {
		if seg == "" {
			return nil, false
		}
	}
	params := map[string]string{}
	for i, seg := range rs {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			if ps[i] == "" {
				return nil, false
			}
			params[seg[1:len(seg)-1]] = ps[i]
			continue
		}
		if seg != ps[i] {
			return nil, false
		}
	}
	return params, true
}
