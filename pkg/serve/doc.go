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
// # Size limits
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
// # Rate limits, quotas and usage
//
// With Config.Usage set, calls are checked against limits before the
// upstream is called, after authentication and the model permission
// check (a refused body never reaches the limits), the same way in both
// modes:
//
//   - An API token's effective limits are Limits.Resolve(its own, its
//     groups): own value, else the most generous group's, else the
//     default, field by field. usage.Store.Admit checks and counts the
//     call; a refusal is 429 with code rate_limit_exceeded (type
//     "requests") for requestsPerMinute/Hour/Day and insufficient_quota
//     for tokensPerDay, tokensPerMonth and budgetPerMonth (which refuse
//     once the recorded usage has reached them: the call that crosses a
//     token quota is served).
//   - Then, with GLOBAL_LIMITS, AdmitGlobal counts every caller
//     together; a refusal is 429 rate_limit_exceeded saying the limit is
//     global, and the token's count is taken back (Unadmit). JWT callers
//     are held to GLOBAL_LIMITS only and leave no usage rows.
//   - Every 429 has Retry-After: whole seconds until the refusing window
//     (UTC minute, hour, day or month) ends, at least 1.
//   - Every answer of a token with effective limits (success, upstream
//     error and 429 alike) carries x-ratelimit-limit-requests,
//     -remaining-requests and -reset-requests for the smallest window with
//     a request limit (minute, else hour, else day) and, with tokensPerDay
//     or tokensPerMonth, x-ratelimit-limit-tokens, -remaining-tokens and
//     -reset-tokens for the day (else the month); remaining counts this
//     call, resets are Go durations in whole seconds rounded up ("12s",
//     "6m0s", "23h59m59s") as OpenAI sends them. The upstream's own
//     x-ratelimit-* headers are then dropped: the caller sees the limits
//     its token is held to. Without limits, the upstream's pass.
//   - A store that fails is 503 limits_unavailable, unless
//     LimitsFailOpen: then the call goes on unchecked and each failed
//     check is logged as a warning with the tokenUUID (never the token).
//     A limit that applies while Config.Usage is nil is treated the same
//     way, so that no limit is silently ignored.
//
// Limits apply to every call of a limited token, GET /models and
// /models/{id} included (they cost the upstream a call, and a refusal
// means the same to an SDK), but usage is recorded only for the model
// endpoints (chat/completions, completions, embeddings). A token with
// request limits therefore has its model-list calls in its request
// counters, which Admit keeps; the usage rows of an unlimited token count
// model calls only.
//
// After a model call, when the token has effective limits or
// UsageTracking is on, Record writes once: Requests 1 unless Admit
// counted the call; Errors 1 if the answer's status is 400 or more (the
// upstream's, or the gateway's 502/504 for it) or a stream was cut;
// prompt and completion tokens from the upstream's "usage"; cost from
// Prices.Cost(model, prompt, completion). The write happens after the
// answer is sent, detached from the caller's request; a failing write is
// logged and cannot change the answer. A deployment without limits and
// with UsageTracking off makes no store call at all.
//
// Tokens come from the answer: a non-streamed answer's "usage" (in
// container mode read from a copy of up to 8 MiB kept while it is relayed;
// a larger answer is counted without tokens, logged). For a stream
// ("stream": true) the usage is in the final chunk that the upstream sends
// for stream_options.include_usage. If the caller did not ask for it, the
// gateway does: it adds "stream_options": {"include_usage": true} to the
// forwarded body by a textual edit (an inserted member or a false/null
// replaced, every other byte kept; a body whose stream_options it cannot
// amend unambiguously goes as sent and is counted without tokens), checks
// the edited body again with the same model checks, and takes the
// usage-only chunk (an event whose JSON has a non-null "usage" and
// "choices": []) out of the relayed stream, so the caller receives the
// stream it asked for. A caller that asked receives the chunk.
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
