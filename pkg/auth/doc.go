// Package auth is the authentication decision core shared by the API
// Gateway authorizer, the ALB-fronted serve function and the local stack:
// it turns request headers into a Principal or a refusal.
//
// A credential is taken from "Authorization: Bearer X", "Authorization: X"
// or "Api-Key: X" (Authorization wins). A JWT-shaped credential is verified
// against the OIDC issuer and never costs a database read; anything else is
// treated as an API token: shape-checked, hashed with SHA-256 and read with
// one strongly consistent GetItem. Every infrastructure failure is returned
// as an error of kind apierr.Unavailable, never as a principal: the core
// fails closed.
package auth
