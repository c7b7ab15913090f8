package apigw

import (
	"context"
	"net/http"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/routes"
	"github.com/llmgw/apitokens/pkg/tokensvc"
)

// Create serves POST /api-tokens/ (the caller's own token) and
// POST /api-tokens/{username} (admins, for a user).
func Create(svc *tokensvc.Service) Handler {
	return func(ctx context.Context, r Request) (Response, error) {
		var req tokensvc.CreateRequest
		if err := DecodeJSON(r.Body, &req); err != nil {
			return Response{}, err
		}
		out, err := svc.Create(ctx, r.Principal, r.PathID, req)
		return Response{Status: http.StatusCreated, Body: out}, err
	}
}

// List serves GET /api-tokens/?limit=&nextToken=&username=.
func List(svc *tokensvc.Service) Handler {
	return func(ctx context.Context, r Request) (Response, error) {
		out, err := svc.List(ctx, r.Principal, tokensvc.ListRequest{
			Username:  r.Query["username"],
			Limit:     r.Query["limit"],
			NextToken: r.Query["nextToken"],
		})
		return Response{Status: http.StatusOK, Body: out}, err
	}
}

// Get serves GET /api-tokens/{tokenUUID}.
func Get(svc *tokensvc.Service) Handler {
	return func(ctx context.Context, r Request) (Response, error) {
		out, err := svc.Get(ctx, r.Principal, r.PathID)
		return Response{Status: http.StatusOK, Body: out}, err
	}
}

// Delete serves DELETE /api-tokens/{tokenUUID}.
func Delete(svc *tokensvc.Service) Handler {
	return func(ctx context.Context, r Request) (Response, error) {
		out, err := svc.Delete(ctx, r.Principal, r.PathID)
		return Response{Status: http.StatusOK, Body: out}, err
	}
}

// Settings serves GET /settings (any authenticated caller) and PUT
// /settings (admins) by the request's method.
func Settings(svc *tokensvc.Service) Handler {
	return func(ctx context.Context, r Request) (Response, error) {
		if r.Method == http.MethodGet {
			out, err := svc.GetSettings(ctx, r.Principal)
			return Response{Status: http.StatusOK, Body: out}, err
		}
		if r.Method != http.MethodPut {
			// API Gateway routes only GET and PUT here.
			return Response{}, apierr.New(apierr.MethodNotAllowed, "method %s not allowed on /settings", r.Method)
		}
		var req tokensvc.SettingsRequest
		if err := DecodeJSON(r.Body, &req); err != nil {
			return Response{}, err
		}
		out, err := svc.PutSettings(ctx, r.Principal, req)
		return Response{Status: http.StatusOK, Body: out}, err
	}
}

// Handlers maps each token function name of pkg/routes to its handler.
func Handlers(svc *tokensvc.Service) map[string]Handler {
	return map[string]Handler{
		routes.FnCreate:   Create(svc),
		routes.FnList:     List(svc),
		routes.FnGet:      Get(svc),
		routes.FnDelete:   Delete(svc),
		routes.FnSettings: Settings(svc),
	}
}
