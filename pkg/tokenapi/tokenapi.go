// Package tokenapi holds the handler of each token management route: it
// decodes the request, calls the token service and names the success
// status. The Lambda functions under functions/ and the local gateway both
// serve these, so what runs locally is what runs in AWS.
package tokenapi

import (
	"context"
	"net/http"

	"github.com/llmgw/apitokens/pkg/httpapi"
	"github.com/llmgw/apitokens/pkg/routes"
	"github.com/llmgw/apitokens/pkg/tokensvc"
)

// Create serves POST /api-tokens/ (the caller's own token) and
// POST /api-tokens/{username} (admins, for a user).
func Create(svc *tokensvc.Service) httpapi.Handler {
	return func(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
		var req tokensvc.CreateRequest
		if err := httpapi.DecodeJSON(r.Body, &req); err != nil {
			return httpapi.Response{}, err
		}
		out, err := svc.Create(ctx, r.Principal, r.PathID, req)
		return httpapi.Response{Status: http.StatusCreated, Body: out}, err
	}
}

// List serves GET /api-tokens/?limit=&nextToken=&username=.
func List(svc *tokensvc.Service) httpapi.Handler {
	return func(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
		out, err := svc.List(ctx, r.Principal, tokensvc.ListRequest{
			Username:  r.Query["username"],
			Limit:     r.Query["limit"],
			NextToken: r.Query["nextToken"],
		})
		return httpapi.Response{Status: http.StatusOK, Body: out}, err
	}
}

// Get serves GET /api-tokens/{tokenUUID}.
func Get(svc *tokensvc.Service) httpapi.Handler {
	return func(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
		out, err := svc.Get(ctx, r.Principal, r.PathID)
		return httpapi.Response{Status: http.StatusOK, Body: out}, err
	}
}

// Delete serves DELETE /api-tokens/{tokenUUID}.
func Delete(svc *tokensvc.Service) httpapi.Handler {
	return func(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
		out, err := svc.Delete(ctx, r.Principal, r.PathID)
		return httpapi.Response{Status: http.StatusOK, Body: out}, err
	}
}

// Handlers maps each token function name of pkg/routes to its handler.
func Handlers(svc *tokensvc.Service) map[string]httpapi.Handler {
	return map[string]httpapi.Handler{
		routes.FnCreate: Create(svc),
		routes.FnList:   List(svc),
		routes.FnGet:    Get(svc),
		routes.FnDelete: Delete(svc),
	}
}
