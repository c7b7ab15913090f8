package serve

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/llmgw/apitokens/pkg/albevent"
	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/limits"
	"github.com/llmgw/apitokens/pkg/usage"
)

// Defaults for the zero values of Config.
const (
	DefaultTimeout = config.DefaultServeTimeout
	// DefaultMaxRequestBytes is the ALB's body limit for Lambda targets; a
	// larger body never reaches the function in AWS, and the local stack
	// refuses it the same way.
	DefaultMaxRequestBytes = albevent.MaxRequestBodyBytes
	// DefaultMaxResponseBytes is the ALB's limit on a Lambda target's
	// response JSON.
	DefaultMaxResponseBytes = albevent.MaxResponseBytes
)

// Config configures a Handler.
type Config struct {
	// UpstreamURL is the OpenAI-compatible base URL, including its version
	// prefix: /v2/serve/<rest> is forwarded to UpstreamURL/<rest>, so
	// "http://litellm:4000/v1" serves /v2/serve/models from
	// http://litellm:4000/v1/models. Required.
	UpstreamURL string
	// UpstreamKey, if set, is sent to the upstream as
	// "Authorization: Bearer <UpstreamKey>". It is never logged.
	UpstreamKey string
	// Timeout bounds one upstream exchange, including reading the answer;
	// past it the caller gets 504. It is shortened to end before the
	// request context's deadline (the Lambda's), so that the 504 can still
	// be sent. With Stream it is an idle timeout instead: the longest wait
	// for the answer's headers or for the next chunk. DefaultTimeout if
	// zero.
	Timeout time.Duration
	// ModelPermissions maps a model id to the groups that may use it. A
	// model listed with no groups is for admins only; admins may use every
	// model. A requested id is also checked under each of its provider
	// prefixes (see the package documentation).
	ModelPermissions map[string][]string
	// ModelPermissionsDefault decides models ModelPermissions does not
	// list: config.ModelsOpen (or "") opens them to every authenticated
	// principal, config.ModelsDeny keeps them for admins.
	ModelPermissionsDefault string
	// AllowInsecureUpstream lets a plain-http UpstreamURL to a host that
	// is not loopback through (SERVE_ALLOW_INSECURE_UPSTREAM); see
	// CheckUpstreamURL.
	AllowInsecureUpstream bool
	// MaxRequestBytes caps request bodies (413 beyond).
	// DefaultMaxRequestBytes if zero.
	MaxRequestBytes int
	// MaxResponseBytes caps the ALB encoding of an answer (502 beyond);
	// not with Stream.
	// DefaultMaxResponseBytes if zero.
	MaxResponseBytes int
	// Stream relays answers as the upstream sends them (the container
	// mode, SERVE_MODE=container): event streams are flushed chunk by
	// chunk, answers have no size limit (MaxResponseBytes does not apply)
	// and Timeout is an idle timeout between reads instead of a bound on
	// the whole exchange. Off, the handler buffers every answer as an ALB
	// Lambda target must.
	Stream bool
	// Client makes the upstream calls; a client that does not follow
	// redirects if nil. Its own Timeout, if any, also applies.
	Client *http.Client
	// Logger receives one line per request; discarded if nil.
	Logger *slog.Logger
	// RequestID names a request in logs and in the X-Request-Id answer
	// header (main passes the Lambda request id); random if nil or empty.
	RequestID func(*http.Request) string

	// Usage counts calls for limits and usage rows; nil meters nothing.
	// A call to which a limit applies (the token's effective limits, or
	// GLOBAL_LIMITS) is then refused as if the store were unreachable
	// (503 limits_unavailable, or let through with LimitsFailOpen), so
	// that a limit is never silently ignored.
	Usage usage.Store
	// Limits are the deployment's limits: DEFAULT_TOKEN_LIMITS,
	// GROUP_TOKEN_LIMITS (resolved with a token's own limits by
	// limits.Policy.Resolve) and GLOBAL_LIMITS.
	Limits limits.Policy
	// Prices are MODEL_PRICES, from which a call's cost is recorded (0 for
	// a model without a price).
	Prices limits.Prices
	// LimitsFailOpen (LIMITS_FAIL_OPEN) lets calls through unchecked,
	// with a warning per call, when the usage store fails; off, they are
	// refused with 503 limits_unavailable.
	LimitsFailOpen bool
	// UsageTracking (USAGE_TRACKING) records the usage of every API
	// token's model calls; off, only tokens with effective limits are
	// recorded.
	UsageTracking bool
}

// FromConfig builds the Config for the shared configuration c: upstream URL,
// key (SERVE_UPSTREAM_API_KEY; a key held in Secrets Manager is fetched by
// the caller), timeout, model permissions and their default for unlisted
// models, limits, prices, LIMITS_FAIL_OPEN and USAGE_TRACKING. The result
// still needs Logger, Usage (the store of USAGE_TABLE_NAME) and, in
// Lambda, RequestID.
func FromConfig(c config.Config) (Config, error) {
	perms, err := ParseModelPermissions(c.ModelPermissions)
	if err != nil {
		return Config{}, err
	}
	return Config{
		UpstreamURL:             c.ServeUpstreamURL,
		UpstreamKey:             c.ServeUpstreamKey,
		Timeout:                 c.ServeTimeout,
		ModelPermissions:        perms,
		ModelPermissionsDefault: c.ModelPermissionsDefault,
		AllowInsecureUpstream:   c.ServeAllowInsecureUpstream,
		Stream:                  c.ServeMode == config.ServeModeContainer,
		Limits:                  c.Limits,
		Prices:                  c.Prices,
		LimitsFailOpen:          c.LimitsFailOpen,
		UsageTracking:           c.UsageTracking,
	}, nil
}

// ParseModelPermissions parses MODEL_PERMISSIONS: a JSON object mapping
// model ids to lists of group names, e.g. {"local-restricted":
// ["lisa-admins"]}. Empty means no restrictions. Errors name the variable,
// because they stop the function at startup.
func ParseModelPermissions(s string) (map[string][]string, error) {
	perms := map[string][]string{}
	if strings.TrimSpace(s) == "" {
		return perms, nil
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s (want a JSON object of model id to list of groups, e.g. {\"my-model\": [\"my-group\"]})",
			config.EnvModelPermissions, fmt.Sprintf(format, args...))
	}
	dec := json.NewDecoder(strings.NewReader(s))
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, bad("invalid JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, bad("unexpected data after the JSON object")
	}
	if raw == nil {
		return nil, bad("null is not an object")
	}
	for model, v := range raw {
		if strings.TrimSpace(model) == "" {
			return nil, bad("empty model id")
		}
		if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			return nil, bad("groups of %q must be a list, not null", model)
		}
		var groups []string
		if err := json.Unmarshal(v, &groups); err != nil {
			return nil, bad("groups of %q must be a list of strings", model)
		}
		for _, g := range groups {
			if strings.TrimSpace(g) == "" {
				return nil, bad("empty group name for %q", model)
			}
		}
		perms[model] = groups
	}
	return perms, nil
}

// CheckUpstreamURL is the one rule for the model upstream's URL, applied
// by the serve function at start-up and by the CDK app at synth: an
// absolute http(s) URL without query, fragment or credentials (they would
// end up in error logs; the key is sent as a header). A plain-http URL
// whose host is not loopback is refused unless allowInsecure: the
// upstream's API key and every prompt would cross the network in clear.
func CheckUpstreamURL(raw string, allowInsecure bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must be an absolute http(s) URL without query, e.g. https://litellm.example.com/v1", raw)
	}
	if u.User != nil {
		return errors.New("must not contain credentials: the upstream's key is configured separately")
	}
	if InsecureUpstream(u) && !allowInsecure {
		return fmt.Errorf("%q is plain http to a host that is not loopback: the upstream's API key and every prompt would cross the network in clear text; use https, or allow it explicitly if that network is trusted", raw)
	}
	return nil
}

// InsecureUpstream reports a plain-http URL whose host is not loopback
// (127.0.0.0/8, ::1 or localhost).
func InsecureUpstream(u *url.URL) bool {
	if u.Scheme != "http" {
		return false
	}
	host := strings.TrimSuffix(u.Hostname(), ".")
	if strings.EqualFold(host, "localhost") {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err != nil || !ip.Unmap().IsLoopback()
}

// CheckModelPermissions applies the serve function's start-up rules to a
// parsed MODEL_PERMISSIONS (ids unique ignoring case and spaces), so that
// the CDK app refuses at synth what would stop the function at its first
// start.
func CheckModelPermissions(perms map[string][]string) error {
	_, err := newPermissions(perms, config.ModelsOpen)
	return err
}

// validate fills defaults and checks what cannot work.
func (c *Config) validate() error {
	if c.UpstreamURL == "" {
		return fmt.Errorf("serve: %s must be set", config.EnvServeUpstreamURL)
	}
	if err := CheckUpstreamURL(c.UpstreamURL, c.AllowInsecureUpstream); err != nil {
		return fmt.Errorf("serve: %s: %w", config.EnvServeUpstreamURL, err)
	}
	c.UpstreamURL = strings.TrimRight(c.UpstreamURL, "/")
	if c.Timeout < 0 || c.MaxRequestBytes < 0 || c.MaxResponseBytes < 0 {
		return errors.New("serve: negative timeout or limit")
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if c.Client == nil {
		// DefaultTransport keeps 2 idle connections per host; with many
		// calls in flight in one process (the local stack) most upstream
		// calls would open a new connection. A Lambda serves one call at a
		// time, so this only costs memory where it helps.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		c.Client = &http.Client{
			Transport: tr,
			// A redirect would be followed without the upstream key (Go drops
			// Authorization across hosts) and could point anywhere; an
			// OpenAI-compatible API has no reason to redirect.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.ModelPermissions == nil {
		c.ModelPermissions = map[string][]string{}
	}
	switch c.ModelPermissionsDefault {
	case "":
		c.ModelPermissionsDefault = config.ModelsOpen
	case config.ModelsOpen, config.ModelsDeny:
	default:
		return fmt.Errorf("serve: %s must be %q or %q, not %q", config.EnvModelPermsDefault, config.ModelsOpen, config.ModelsDeny, c.ModelPermissionsDefault)
	}
	return nil
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}
