package localstack_test

import (
	"bytes"
	"mime"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/llmgw/apitokens/pkg/apigw"
	"github.com/llmgw/apitokens/pkg/local/localstack"
	"github.com/llmgw/apitokens/pkg/routes"
)

// TestOpenAPIServed: the local gateway answers GET /openapi.yaml with the
// embedded document of the token API, as YAML that names every route, and
// the quick start says where it is.
func TestOpenAPIServed(t *testing.T) {
	s := startStack(t, nil)
	c := newClient(t, s)
	a := c.want(c.do("GET", "/openapi.yaml", ""), 200)
	ct, _, err := mime.ParseMediaType(a.header.Get("Content-Type"))
	if err != nil || (ct != "application/yaml" && ct != "application/openapi+yaml") {
		t.Fatalf("Content-Type = %q, want a YAML media type", a.header.Get("Content-Type"))
	}
	if !bytes.Equal([]byte(a.raw), apigw.OpenAPI) {
		t.Fatal("the served document is not the embedded one")
	}
	var doc struct {
		OpenAPI string                               `yaml:"openapi"`
		Paths   map[string]map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal([]byte(a.raw), &doc); err != nil {
		t.Fatalf("the served document is not YAML: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	for _, rt := range routes.APITokens {
		if doc.Paths[rt.Resource][strings.ToLower(rt.Method)] == nil {
			t.Errorf("the served document lacks %s %s", rt.Method, rt.Resource)
		}
	}
	// Only GET: other methods fall through to the 404 of unknown paths.
	c.want(c.do("POST", "/openapi.yaml", "{}"), 404)
	if qs := localstack.QuickStart(s); !strings.Contains(qs, s.URL+"/openapi.yaml") {
		t.Errorf("quick start does not name %s/openapi.yaml:\n%s", s.URL, qs)
	}
}
