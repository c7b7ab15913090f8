package serve

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/llmgw/apitokens/pkg/apierr"
)

// routingParams are the body parameters with which a caller makes a common
// upstream serve another model, deployment or backend than the one named
// by "model", the one permissions are checked for. Non-admins may not send
// them; admins may use every model anyway. A name with a dot is a key
// inside the object (or JSON-encoded object string) at the top-level key
// before the dot. Keys are compared ignoring case (Unicode simple folding,
// as encoding/json matches struct fields): a Go upstream honours
// "API_BASE" as "api_base". Sources: LiteLLM's request-body, router
// reliability, provider-specific and client-side credential parameters
// (its router lets every body key override the deployment's own
// parameters), vLLM's extra parameters, Ollama's OpenAI-compatible API.
var routingParams = []string{
	// LiteLLM router fallbacks: other model groups tried when the requested
	// one fails, and a caller can make any call fail (an oversized
	// max_tokens, a long prompt, a policy-violating message).
	"fallbacks",
	"context_window_fallbacks",
	"content_policy_fallbacks",
	"default_fallbacks",
	// LiteLLM: races the models of a comma list in "model" and answers
	// with the fastest (comma lists are refused as model ids too).
	"fastest_response",
	// LiteLLM testing switches that raise, on demand, the error that makes
	// the router take the fallbacks an administrator configured for real
	// failures (recent proxies strip the first three, older ones do not).
	"mock_testing_fallbacks",
	"mock_testing_context_fallbacks",
	"mock_testing_content_policy_fallbacks",
	"mock_testing_rate_limit_error",
	// LiteLLM: a mock_response naming an exception ("litellm.RateLimitError")
	// is raised and triggers the fallbacks the same way, and otherwise
	// forges the answer logged as the checked model's; mock_timeout raises
	// a timeout, with the same effect.
	"mock_response",
	"mock_timeout",
	// LiteLLM client-side router configuration: a per-request model list
	// maps the requested name to any deployment, provider or server.
	"user_config",
	"model_list",
	// LiteLLM: the deployment parameters block (model, api_base, api_key),
	// accepted in the body by some endpoints.
	"litellm_params",
	// LiteLLM: address one deployment by its provider model name instead of
	// the model group that permissions name.
	"specific_deployment",
	// Azure-style deployment selectors: LiteLLM replaces the model with
	// deployment_id; engine is the legacy OpenAI SDK's name for it.
	"deployment_id",
	"engine",
	// LiteLLM: override the provider the deployment's model goes to
	// ("azure" is the legacy boolean form); use_litellm_proxy sends it to
	// the LiteLLM proxy configured in the environment.
	"custom_llm_provider",
	"azure",
	"use_litellm_proxy",
	// Another server: LiteLLM refuses api_base/base_url alone but accepts
	// them with an api_key ("client-side credentials"), and then calls the
	// caller's server while logging the checked model.
	"api_base",
	"base_url",
	"api_key",
	"api_version",
	// LiteLLM: use another stored credential, i.e. another account.
	"litellm_credential_name",
	// LiteLLM provider credentials and endpoints, which override the
	// deployment's: another AWS, Google or Azure account, region or
	// endpoint is another backend (and another data residency).
	"aws_access_key_id",
	"aws_secret_access_key",
	"aws_session_token",
	"aws_session_name",
	"aws_profile_name",
	"aws_role_name",
	"aws_web_identity_token",
	"aws_sts_endpoint",
	"aws_region_name",
	"aws_bedrock_runtime_endpoint",
	"region_name",
	"vertex_project",
	"vertex_location",
	"vertex_credentials",
	"vertex_ai_project",
	"vertex_ai_location",
	"azure_ad_token",
	"tenant_id",
	"client_id",
	"client_secret",
	"azure_username",
	"azure_password",
	// LiteLLM: merged into the body sent to the provider, where
	// {"model": ...} replaces the deployment's model.
	"extra_body",
	// LiteLLM: headers sent to the provider, which can replace its
	// Authorization (another account) or carry provider routing headers.
	"extra_headers",
	"headers",
	// LiteLLM tag-based routing: picks the deployments carrying the tags,
	// from the body or its metadata.
	"tags",
	"metadata.tags",
	"litellm_metadata.tags",
	// LiteLLM's router writes the model group into metadata; a caller's
	// value is refused so that no version or hook reading it is steered.
	"metadata.model_group",
	"litellm_metadata.model_group",
	// LiteLLM prompt management: a stored prompt may carry its own model.
	"prompt_id",
	// vLLM disaggregated prefill: names the remote engine (host, port) the
	// server exchanges KV cache with, a backend of the caller's choosing.
	"kv_transfer_params",
}

// Deliberately not in routingParams: vLLM's guided_decoding_backend picks
// the structured-output engine, not the model; vLLM selects LoRA adapters
// by "model" (lora_request is not an HTTP field); Ollama's OpenAI-compatible
// endpoints read the model from "model" alone (options and keep_alive tune
// it); max_fallbacks, fallback_depth, num_retries and timeout only bound
// fallbacks and retries; metadata keys other than the above are the
// caller's labels (OpenAI's own "metadata").

// routingTop and routingNested index routingParams by folded key.
var routingTop, routingNested = func() (map[string]bool, map[string]map[string]bool) {
	top, nested := map[string]bool{}, map[string]map[string]bool{}
	for _, p := range routingParams {
		outer, inner, ok := strings.Cut(p, ".")
		if !ok {
			top[foldKey(p)] = true
			continue
		}
		o := foldKey(outer)
		if nested[o] == nil {
			nested[o] = map[string]bool{}
		}
		nested[o][foldKey(inner)] = true
	}
	return top, nested
}()

var (
	foldedModel  = foldKey("model")
	foldedStream = foldKey("stream")
)

// modelRequest is what the handler needs of a model call's body.
type modelRequest struct {
	model    string // the value of the one key that folds to "model"
	modelKey string // that key, as written
	stream   bool
}

// readModelRequest reads a model call's body the way every upstream will,
// and refuses what upstreams could read differently from this check:
// top-level keys that are equal ignoring case (Python and a map decode
// keep the last exact "model", encoding/json the last of any case), a
// model key not written "model", model
// ids an upstream expands (comma lists, wildcards) and, unless routing is
// allowed, the routingParams. It scans the JSON tokens: decoding into a map
// would silently keep the last of two equal keys.
func readModelRequest(body []byte, routingAllowed bool) (modelRequest, error) {
	notObject := apierr.New(apierr.Invalid, "We could not parse the JSON body of your request: it must be a JSON object").WithCode("invalid_json")
	// JSON is UTF-8 (RFC 8259); decoders differ on anything else.
	if !utf8.Valid(body) {
		return modelRequest{}, notObject
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return modelRequest{}, notObject
	}
	var (
		req      modelRequest
		rawModel json.RawMessage
		dupErr   error
		routing  string
		seen     = map[string]bool{}
	)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return modelRequest{}, notObject
		}
		key, _ := t.(string) // object keys are always strings
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return modelRequest{}, notObject
		}
		f := foldKey(key)
		if seen[f] && dupErr == nil {
			dupErr = withParam(key, apierr.New(apierr.Invalid,
				"the body has the key '%s' more than once (keys are compared ignoring case, as many upstreams read them)", truncate(key, 100)).WithCode("duplicate_key"))
		}
		seen[f] = true
		switch f {
		case foldedModel:
			rawModel, req.modelKey = v, key
		case foldedStream:
			req.stream = bytes.Equal(bytes.TrimSpace(v), []byte("true"))
		}
		if routing == "" {
			routing = routingParam(f, key, v)
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return modelRequest{}, notObject
	}
	if _, err := dec.Token(); err != io.EOF {
		return modelRequest{}, notObject // a second value after the object
	}
	if dupErr != nil {
		return req, dupErr
	}
	if rawModel == nil || bytes.Equal(bytes.TrimSpace(rawModel), []byte("null")) {
		return req, withParam("model", apierr.New(apierr.Invalid, "you must provide a model parameter").WithCode("missing_model"))
	}
	if req.modelKey != "model" {
		// {"Model": "x"} is x to encoding/json and no model to Python.
		return req, withParam(req.modelKey, apierr.New(apierr.Invalid, "the model parameter must be written 'model', not '%s'", truncate(req.modelKey, 100)).WithCode("invalid_model"))
	}
	if err := json.Unmarshal(rawModel, &req.model); err != nil {
		return req, withParam(req.modelKey, apierr.New(apierr.Invalid, "model must be a string").WithCode("invalid_model"))
	}
	if strings.TrimSpace(req.model) == "" {
		return req, withParam(req.modelKey, apierr.New(apierr.Invalid, "you must provide a model parameter").WithCode("missing_model"))
	}
	if err := checkModelID(req.model); err != nil {
		return req, withParam(req.modelKey, err)
	}
	if routing != "" && !routingAllowed {
		return req, withParam(routing, apierr.New(apierr.Invalid,
			"the body parameter '%s' is not allowed: it lets the upstream choose another model, deployment or backend than the one your permissions were checked for", truncate(routing, 100)).WithCode("param_not_allowed"))
	}
	return req, nil
}

// routingParam returns the routing parameter that the top-level key (key,
// folded f) with value v carries, as written ("metadata.tags" for a nested
// one), or "".
func routingParam(f, key string, v json.RawMessage) string {
	if routingTop[f] {
		return key
	}
	inner, ok := routingNested[f]
	if !ok {
		return ""
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(v, &obj) != nil {
		// Some upstreams accept metadata as a JSON-encoded string.
		var s string
		if json.Unmarshal(v, &s) != nil || json.Unmarshal([]byte(s), &obj) != nil {
			return ""
		}
	}
	var found []string
	for k := range obj {
		if inner[foldKey(k)] {
			found = append(found, k)
		}
	}
	if len(found) == 0 {
		return ""
	}
	return key + "." + slices.Min(found) // the same answer every time
}
