package routes_test

import (
	"testing"

	"github.com/llmgw/apitokens/pkg/routes"
)

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		method, path, fn, id string
		exists               bool
	}{
		{"POST", "/api-tokens", routes.FnCreate, "", true},
		{"POST", "/api-tokens/", routes.FnCreate, "", true},
		{"GET", "/api-tokens/", routes.FnList, "", true},
		{"POST", "/api-tokens/alice", routes.FnCreate, "alice", true},
		{"GET", "/api-tokens/550e8400-e29b-41d4-a716-446655440000", routes.FnGet, "550e8400-e29b-41d4-a716-446655440000", true},
		{"DELETE", "/api-tokens/x/", routes.FnDelete, "x", true},
		{"PUT", "/api-tokens/x", "", "", true}, // path exists, method does not: 404 from the gateway
		{"GET", "/api-tokens/x/y", "", "", false},
		{"GET", "/api-token", "", "", false},
		{"GET", "/", "", "", false},
		// An empty segment is no resource: never read as a shorter path.
		{"GET", "/api-tokens//", "", "", false},
		{"POST", "//api-tokens/", "", "", false},
		{"DELETE", "/api-tokens//x", "", "", false},
		{"GET", "api-tokens", "", "", false},
		// Escaped paths (as the gateway matches them): the parameter is one
		// segment, decoded by the caller.
		{"POST", "/api-tokens/%2F", routes.FnCreate, "%2F", true},
		{"GET", "/settings", routes.FnSettings, "", true},
		{"PUT", "/settings/", routes.FnSettings, "", true},
		{"POST", "/settings", "", "", true},
		{"DELETE", "/settings", "", "", true},
		{"GET", "/settings/x", "", "", false},
		{"GET", "/settings//", "", "", false},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r, params, exists := routes.Match(tc.method, tc.path)
			if r.Function != tc.fn || exists != tc.exists || params[routes.PathParam] != tc.id {
				t.Fatalf("Match = %+v %v %v; want fn %q id %q exists %v", r, params, exists, tc.fn, tc.id, tc.exists)
			}
		})
	}
}

func TestEveryFunctionHasARoute(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range routes.APITokens {
		seen[r.Function] = true
	}
	for _, fn := range []string{routes.FnCreate, routes.FnList, routes.FnGet, routes.FnDelete, routes.FnSettings} {
		if !seen[fn] {
			t.Errorf("function %s has no route", fn)
		}
	}
}

func TestInTokenAPI(t *testing.T) {
	for p, want := range map[string]bool{
		"/api-tokens": true, "/api-tokens/": true, "/api-tokens/x/y": true, "/api-tokens//": true,
		"/settings": true, "/settings/": true, "/settings/x": true,
		"/settingsx": false, "/api-tokensx": false, "/": false, "": false, "/v2/serve/models": false, "/healthz": false,
	} {
		if got := routes.InTokenAPI(p); got != want {
			t.Errorf("InTokenAPI(%q) = %v, want %v", p, got, want)
		}
	}
}
