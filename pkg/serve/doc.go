// Package serve is the model-serving path behind the ALB (/v2/serve/*) as
// an ordinary http.Handler: it authorizes every call with the shared
// decision core (an auth.Authenticator), enforces per-model group
// permissions that the body cannot route around, and forwards the call to an OpenAI-compatible upstream
// (LiteLLM, vLLM, Ollama, ...) with the upstream's own key. The Lambda
// function adapts it with albevent.Handler; the local stack runs it behind
// the same conversion.
//
// # Routes
//
// /v2/serve/<rest> is forwarded to <UpstreamURL>/<rest>, for an allow-list
// of OpenAI endpoints only:
//
//	GET  /v2/serve/models             the upstream's list, filtered to the models the caller may use
//	GET  /v2/serve/models/{id}        one model, 404 if the caller may not use it
//	POST /v2/serve/chat/completions   checked against the body's "model"
//	POST /v2/serve/completions        checked against the body's "model"
//	POST /v2/serve/embeddings         checked against the body's "model"
//
// Every other path is 404 (after authentication, so that unauthenticated
// callers learn nothing). Forwarding unknown paths would be unsafe: the
// upstream key is often an administrative key (a LiteLLM master key can
// mint keys and change budgets), and an endpoint whose model this package
// does not know how to find cannot be permission-checked. For the same
// reason only an allow-list of request headers (Content-Type, Accept,
// User-Agent, OpenAI-Beta, X-Amzn-Trace-Id) and no query string is
// forwarded: upstreams accept credentials in headers this package cannot
// all name (Api-Key, X-Api-Key, X-LiteLLM-Api-Key, Proxy-Authorization,
// ...) and some in the query string, and the caller's credential must never
// reach the upstream.
//
// # Model permissions
//
// The model a call reaches is the model that was checked. A body is read
// token by token, the way both case-sensitive upstreams (Python, a Go map)
// and case-insensitive ones (encoding/json structs) will read it, and is
// refused with a 400 whose "param" names the key at fault if they could
// disagree or if it routes elsewhere: top-level keys equal ignoring case
// ("model" twice, "model" and "MODEL"), a model key not written "model",
// model ids with commas, wildcards, whitespace or invisible characters
// inside, and, for non-admins, the body parameters in routingParams with
// which LiteLLM, vLLM and similar upstreams pick other models, deployments
// or servers (fallbacks, api_base, user_config, ...). A requested id is
// checked under each of its provider prefixes ("openai/x" as x too); see
// permissions. ModelPermissionsDefault decides unlisted models.
//
// # Limits
//
// An ALB gives a Lambda target at most 1 MB of request body and accepts at
// most 1 MB of response JSON. Bodies over MaxRequestBytes are refused with
// 413. An upstream answer whose ALB encoding (JSON-escaped or base64 body
// plus headers, measured by albevent.ResponseSize) would exceed
// MaxResponseBytes is refused with a 502 that says so, never truncated.
// Because an ALB cannot stream a Lambda response, a "stream": true call is
// answered with the upstream's complete server-sent-event body at once.
//
// # Streaming (container mode)
//
// With Config.Stream (SERVE_MODE=container: the handler runs in an HTTP
// server rather than behind the ALB's Lambda conversion) answers are
// relayed as the upstream sends them: event streams are flushed after every
// read, no answer has a size limit (request bodies keep MaxRequestBytes),
// and Timeout is an idle timeout restarted by every chunk. Authentication
// and permissions still run before anything is sent. An upstream failure
// before the first byte is an ordinary error answer; after it, an event
// stream ends with an in-band event data: {"error": {...}} and without
// data: [DONE], so that SDKs report the error rather than a short answer.
// A caller that disconnects cancels the upstream request.
//
// # Errors
//
// Errors use OpenAI's shape, {"error": {"message", "type", "param",
// "code"}}, so that SDKs surface them; the status always comes from
// apierr.Status. Authentication failures are 401: with code
// "invalid_api_key" when the credential is not a valid key (malformed,
// unknown or revoked, an unverifiable JWT), otherwise with the decision
// core's reason code ("expired_token", "not_in_user_group", "jwt_expired",
// ...), and always with a message that says what is wrong; a failure of
// the decision core's dependencies is 503, never an Allow.
package serve
