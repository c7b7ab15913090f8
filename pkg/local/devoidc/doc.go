// Package devoidc is a small OpenID Connect issuer for local development and
// tests ONLY. It exists so that the local stack (`make run`) and the test
// suites can exercise the real JWT path - discovery document, JWKS, key
// rotation, outages - over real HTTP, without a Cognito user pool or any
// other identity provider.
//
// It has no login, no consent, no client authentication and no secrets worth
// the name: anyone who can reach its token endpoint can mint a token for any
// username and any groups. It must therefore never be wired into a Lambda
// binary or any deployed component; a test in this package fails if a package
// under functions/ or authorizer/ imports it.
//
// An Issuer is an http.Handler. It is told its public issuer URL (for example
// http://127.0.0.1:8080/dev-oidc) and serves, relative to that URL:
//
//	GET  /.well-known/openid-configuration   discovery document
//	GET  /.well-known/jwks.json               public keys (also at /jwks)
//	POST /token                               {"username","groups","expiresIn"} -> {"id_token",...}
//
// It may be mounted with or without http.StripPrefix: request paths that
// still carry the issuer URL's path are understood too.
//
// For tests it also offers programmatic helpers: Sign arbitrary claims with
// the current key, add, rotate and remove keys, count JWKS fetches, and
// simulate an outage with SetDown.
package devoidc
