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

// Delete serves DELETE /api-tokens/{tokenUUID} and, without a path id,
// DELETE /api-tokens/?username=&includeSystemTokens= (every token of a
// user).
func Delete(svc *tokensvc.Service) Handler {
	return func(ctx context.Context, r Request) (Response, error) {
		if r.PathID == "" {
			out, err := svc.RevokeUser(ctx, r.Principal, tokensvc.RevokeRequest{
				Username: r.Query["username"], IncludeSystemTokens: r.Query["includeSystemTokens"],
			})
			return Response{Status: http.StatusOK, Body: out}, err
		}
		out, err := svc.Delete(ctx, r.Principal, r.PathID)
		return Response{Status: http.StatusOK, Body: out}, err
	}
}

// Update serves PATCH /api-tokens/{tokenUUID}.
func Update(svc *tokensvc.Service) Handler {
	return func(ctx context.Context, r Request) (Response, error) {
		var req tokensvc.PatchRequest
		if err := DecodeJSON(r.Body, &req); err != nil {
			return Response{}, err
		}
		out, err := svc.Patch(ctx, r.Principal, r.PathID, req)
		return Response{Status: http.StatusOK, Body: out}, err
	}
}

// Rotate serves POST /api-tokens/{tokenUUID}/rotate.
func Rotate(svc *tokensvc.Service) Handler {
	return func(ctx context.Context, r Request) (Response, error) {
		var req tokensvc.RotateRequest
		if err := DecodeJSON(r.Body, &req); err != nil {
			return Response{}, err
		}
		out, err := svc.Rotate(ctx, r.Principal, r.PathID, req)
		return Response{Status: http.StatusCreated, Body: out}, err
	}
}

// Events serves GET /api-tokens/{tokenUUID}/events (one token's history)
// and GET /api-token-events (admins: every token's).
func Events(svc *tokensvc.Service) Handler {
	return func(ctx context.Context, r Request) (Response, error) {
		req := tokensvc.EventsRequest{
			Username: r.Query["username"], Actor: r.Query["actor"], From: r.Query["from"], To: r.Query["to"],
			Limit: r.Query["limit"], NextToken: r.Query["nextToken"],
		}
		if r.PathID != "" {
			out, err := svc.TokenEvents(ctx, r.Principal, r.PathID, req)
			return Response{Status: http.StatusOK, Body: out}, err
		}
		out, err := svc.Events(ctx, r.Principal, req)
		return Response{Status: http.StatusOK, Body: out}, err
	}
}

// Usage serves GET /api-tokens/{tokenUUID}/usage (one token's usage per
// day) and GET /api-token-usage (admins: per user and per token).
func Usage(svc *tokensvc.Service) Handler {
	return func(ctx context.Context, r Request) (Response, error) {
		req := tokensvc.UsageRequest{Username: r.Query["username"], From: r.Query["from"], To: r.Query["to"]}
		if r.PathID != "" {
			out, err := svc.TokenUsage(ctx, r.Principal, r.PathID, req)
			return Response{Status: http.StatusOK, Body: out}, err
		}
		out, err := svc.UsageReport(ctx, r.Principal, req)
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
		routes.FnUpdate:   Update(svc),
		routes.FnRotate:   Rotate(svc),
		routes.FnEvents:   Events(svc),
		routes.FnUsage:    Usage(svc),
	}
}
