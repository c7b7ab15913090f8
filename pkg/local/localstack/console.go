package localstack

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/routes"
)

// EnvWebDir names the folder of the built console (`make web` writes
// build/web); unset means build/web of the module this runs in.
const EnvWebDir = "WEB_DIR"

// ConsoleConfig is /config.json: what the console needs to sign in and to
// call the APIs. The CDK app writes the same document at deploy time.
type ConsoleConfig struct {
	Authority   string `json:"authority"`
	ClientID    string `json:"clientId"`
	APIURL      string `json:"apiUrl"`
	ServeURL    string `json:"serveUrl"`
	AdminGroup  string `json:"adminGroup"`
	APIGroup    string `json:"apiGroup"`
	GroupsClaim string `json:"groupsClaim"`
	// UsernameClaim is JWT_USERNAME_PROPERTY, when set.
	UsernameClaim string `json:"usernameClaim,omitempty"`
	// RevocationSeconds is TOKEN_CACHE_SECONDS: how long a deleted token
	// can still call models, which the console tells whoever deletes one.
	RevocationSeconds int `json:"revocationSeconds"`
}

func consoleConfig(cfg config.Config, base string) ConsoleConfig {
	return ConsoleConfig{
		Authority:         cfg.Authority,
		ClientID:          cfg.ClientID,
		APIURL:            base,
		ServeURL:          base + strings.TrimSuffix(routes.ServePathPrefix, "/"),
		AdminGroup:        cfg.Groups.Admin,
		APIGroup:          cfg.Groups.API,
		GroupsClaim:       cfg.JWTGroupsProperty,
		UsernameClaim:     cfg.JWTUsernameProperty,
		RevocationSeconds: int(cfg.TokenCacheTTL / time.Second),
	}
}

// defaultWebDir is build/web beside the go.mod above the working directory
// (make run starts in the repository; tests in their package folder).
func defaultWebDir() string {
	dir, err := os.Getwd()
	if err != nil {
		return filepath.Join("build", "web")
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "build", "web")
		}
		if filepath.Dir(d) == d {
			return filepath.Join(dir, "build", "web")
		}
	}
}

// consoleHandler serves the built console: files from dir, /config.json
// from the stack's configuration, and index.html at "/". The console routes
// with the URL's fragment (/#/tokens), so "/" is its only page; any other
// path stays a 404, as it is on API Gateway, which shares this origin here.
// Without a build it answers 404 saying how to make one.
func consoleHandler(dir string, cc ConsoleConfig) http.Handler {
	files := http.FileServer(http.Dir(dir))
	cfgJSON, _ := json.Marshal(cc) // a struct of strings always marshals
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
			return
		}
		if r.URL.Path == "/config.json" {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-cache")
			_, _ = w.Write(cfgJSON)
			return
		}
		index := filepath.Join(dir, "index.html")
		if _, err := os.Stat(index); errors.Is(err, os.ErrNotExist) {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found: the console is not built (run make web, or make run, which builds it); the local stack serves /api-tokens, /settings, /v2/serve/*, /dev-oidc, /healthz and /openapi.yaml"})
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		switch clean := path.Clean("/" + r.URL.Path); {
		case r.URL.Path == "/" || r.URL.Path == "/index.html":
			w.Header().Set("Cache-Control", "no-cache")
			http.ServeFile(w, r, index)
		case path.Ext(clean) == "" || clean != r.URL.Path:
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
		default:
			files.ServeHTTP(w, r)
		}
	})
}
