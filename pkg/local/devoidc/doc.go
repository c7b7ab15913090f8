// Package devoidc is a small OpenID Connect issuer for local development and
// tests ONLY. It exists so that the local stack (`make run`) and the test
// suites can exercise the real JWT path - discovery document, JWKS, key
// rotation, outages - over real HTTP, without a Cognito user pool or any
// other identity provider.
//
// It has no passwords, no consent, no client authentication and no secrets
// worth the name: anyone who can reach its token endpoint or its sign-in
// page can get a token for any username and any groups. It must therefore never be wired into a Lambda
// binary or any deployed component; a test in this package fails if a package
// under functions/ or authorizer/ imports it.
//
// An Issuer is an http.Handler. It is told its public issuer URL (for example
// http://127.0.0.1:8080/dev-oidc) and serves, relative to that URL:
//
//	GET  /.well-known/openid-configuration   discovery document
//	GET  /.well-known/jwks.json               public keys (also at /jwks)
//	POST /token                               {"username","groups","expiresIn"} -> {"id_token",...}
//	GET  /authorize                           sign-in page (authorization code flow, PKCE S256)
//	POST /authorize                           the page's form -> 303 to redirect_uri?code=...&state=...
//	POST /token  (form, grant_type=authorization_code)  code + code_verifier -> {"id_token","access_token",...}
//	GET  /logout                              303 to post_logout_redirect_uri, or a signed-out page
//
// The browser sign-in serves one public client, Options.Audience, and
// returns only to Options.RedirectOrigins. The page lets the developer type
// a username and comma-separated groups, or pick one of three preset users
// (Admin, API user, User without API access) whose groups come from
// Options. Codes live CodeTTL and are spent by the first exchange attempt.
// There is no session: every sign-in shows the page, and prompt=none is
// answered with login_required.
//
// The protocol is written out here, not taken from an OpenID provider
// library: those bring their own key handling, router, storage interface
// and permissive CORS, where this needs one client, the keys and routes
// above, and a page of its own.
//
// It may be mounted with or without http.StripPrefix: request paths that
// still carry the issuer URL's path are understood too.
//
// For tests it also offers programmatic helpers: Sign arbitrary claims with
// the current key, add, rotate and remove keys, count JWKS fetches, and
// simulate an outage with SetDown.
package devoidc
