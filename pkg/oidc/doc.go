// Package oidc verifies the JWTs (OIDC ID or access tokens) that people
// present to the gateway, for the auth decision core in package auth.
//
// A Verifier trusts exactly one issuer (AUTHORITY) and one audience
// (CLIENT_ID). Its keys come from the issuer's discovery document and JWKS,
// fetched lazily on first use and cached; construction never touches the
// network, so a Lambda cold start while the issuer is down does not crash
// the process - each request then fails closed with an apierr.Unavailable
// error, and discovery is retried (rate-limited) by later requests.
//
// What is accepted, and why:
//
//   - Only asymmetric algorithms (RS*, PS*, ES*, EdDSA). "none" and HMAC are
//     refused before any key is looked up: with HMAC, anyone holding the
//     issuer's public key could forge tokens (algorithm confusion).
//   - "iss" must equal the configured issuer and "aud" must contain the
//     configured audience; "exp" is required; "nbf" and "iat" are checked
//     when present. All time checks allow a small leeway for clock skew.
//   - Base64url segments must be canonical (strict decoding), so a valid
//     token has exactly one spelling and cannot be varied to dodge caches.
//   - A token whose kid is unknown triggers a JWKS refresh, at most once per
//     RefreshUnknownKIDInterval, so a rotated-in key is picked up without a
//     restart while a flood of made-up kids cannot hammer the issuer. The
//     limiter never queues: made-up kids cannot reserve the refreshes
//     ahead of a real one, and a refresh always has its full HTTPTimeout.
//   - Keys already cached keep working while the issuer is unreachable.
//
// Every refusal is an *apierr.Error of kind Unauthenticated with a Code
// (jwt_malformed, jwt_alg_not_allowed, ...); an unreachable issuer with no
// usable keys is kind Unavailable (code issuer_unavailable). Messages never
// contain the token.
package oidc
