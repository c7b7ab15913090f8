package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/routes"
)

// flatten renders a template value as one string: Fn::Join is joined, a Ref
// becomes <Ref:id> and a GetAtt <id.attr>, so policies built from tokens can
// be compared as text.
func flatten(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if j, ok := x["Fn::Join"].([]any); ok {
			var parts []string
			for _, p := range listOf(j[1]) {
				parts = append(parts, flatten(p))
			}
			return strings.Join(parts, j[0].(string))
		}
		if r, ok := x["Ref"].(string); ok {
			return "<Ref:" + r + ">"
		}
		if g, ok := x["Fn::GetAtt"].([]any); ok {
			return "<" + g[0].(string) + "." + g[1].(string) + ">"
		}
	}
	return jsonString(v)
}

// oneResource is the only resource of type typ, or a test failure.
func (s *synthesized) oneResource(t *testing.T, typ string) (string, map[string]any) {
	t.Helper()
	rs := s.resources(typ)
	if len(rs) != 1 {
		t.Fatalf("want one %s, got %d", typ, len(rs))
	}
	for id, r := range rs {
		return id, props(r)
	}
	return "", nil
}

// consoleOrigin is the origin the console is served from, as flatten
// renders it.
func (s *synthesized) consoleOrigin(t *testing.T) string {
	if d := s.cfg.Console.DomainName; d != "" {
		return "https://" + d
	}
	id, _ := s.oneResource(t, "AWS::CloudFront::Distribution")
	return "https://<" + id + ".DomainName>"
}

func (s *synthesized) apiOrigin() string {
	return "https://<Ref:" + s.logicalID(s.stack.API.API) + ">.execute-api.us-east-1.<Ref:AWS::URLSuffix>"
}

// consoleBucketID is the bucket the distribution reads from.
func (s *synthesized) consoleBucketID(t *testing.T) string {
	return s.logicalID(s.stack.Console.Bucket)
}

func TestConsoleBucketIsPrivate(t *testing.T) {
	s := synth(t, "default")
	id := s.consoleBucketID(t)
	b := props(s.resources("AWS::S3::Bucket")[id])
	if want := map[string]any{"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true}; !same(b["PublicAccessBlockConfiguration"], want) {
		t.Errorf("console bucket public access block %v, want all four on", jsonString(b["PublicAccessBlockConfiguration"]))
	}
	if !strings.Contains(jsonString(b["BucketEncryption"]), `"SSEAlgorithm":"AES256"`) {
		t.Errorf("console bucket encryption %v, want SSE-S3", jsonString(b["BucketEncryption"]))
	}
	if b["WebsiteConfiguration"] != nil || b["AccessControl"] != nil {
		t.Errorf("console bucket must not be a website or carry an ACL: %v", jsonString(b))
	}
	distID, _ := s.oneResource(t, "AWS::CloudFront::Distribution")
	var policy map[string]any
	for _, p := range s.resources("AWS::S3::BucketPolicy") {
		if same(props(p)["Bucket"], ref(id)) {
			policy = props(p)
		}
	}
	if policy == nil {
		t.Fatal("console bucket has no bucket policy")
	}
	sslDenied := false
	for _, st := range listOf(policy["PolicyDocument"].(map[string]any)["Statement"]) {
		m := st.(map[string]any)
		j := jsonString(m)
		if m["Effect"] == "Deny" && strings.Contains(j, `"aws:SecureTransport":"false"`) {
			sslDenied = true
		}
		if m["Effect"] == "Allow" {
			if !same(m["Principal"], map[string]any{"Service": "cloudfront.amazonaws.com"}) || !strings.Contains(j, "AWS:SourceArn") || !refersTo(m["Condition"], distID) {
				t.Errorf("console bucket policy allows more than this distribution: %s", j)
			}
		}
	}
	if !sslDenied {
		t.Errorf("console bucket policy does not deny requests without TLS: %v", jsonString(policy))
	}
}

func TestConsoleDistributionUsesOACAndHTTPS(t *testing.T) {
	s := synth(t, "default")
	_, d := s.oneResource(t, "AWS::CloudFront::Distribution")
	dc := d["DistributionConfig"].(map[string]any)
	if n := len(s.resources("AWS::CloudFront::CloudFrontOriginAccessIdentity")); n != 0 {
		t.Errorf("%d origin access identities; the console uses origin access control", n)
	}
	oacID, oac := s.oneResource(t, "AWS::CloudFront::OriginAccessControl")
	if c := oac["OriginAccessControlConfig"].(map[string]any); c["OriginAccessControlOriginType"] != "s3" || c["SigningBehavior"] != "always" {
		t.Errorf("origin access control %v, want s3, always signing", jsonString(c))
	}
	origins := listOf(dc["Origins"])
	if len(origins) != 1 {
		t.Fatalf("want one origin, got %v", jsonString(origins))
	}
	o := origins[0].(map[string]any)
	if !refersTo(o["OriginAccessControlId"], oacID) || !refersTo(o["DomainName"], s.consoleBucketID(t)) {
		t.Errorf("origin %v does not read the console bucket through the OAC", jsonString(o))
	}
	if dc["DefaultRootObject"] != "index.html" {
		t.Errorf("DefaultRootObject %v, want index.html", dc["DefaultRootObject"])
	}
	b := dc["DefaultCacheBehavior"].(map[string]any)
	if b["ViewerProtocolPolicy"] != "redirect-to-https" {
		t.Errorf("ViewerProtocolPolicy %v, want redirect-to-https", b["ViewerProtocolPolicy"])
	}
	if dc["CacheBehaviors"] != nil {
		t.Errorf("unexpected extra cache behaviors %v: the headers policy must cover every path", jsonString(dc["CacheBehaviors"]))
	}
	policyID, _ := s.oneResource(t, "AWS::CloudFront::ResponseHeadersPolicy")
	if !same(b["ResponseHeadersPolicyId"], ref(policyID)) {
		t.Errorf("default behavior headers policy %v, want %s", jsonString(b["ResponseHeadersPolicyId"]), policyID)
	}
	if containsAny(s.warnings, "AccessLevel.LIST") {
		t.Errorf("CDK's LIST warning is left unacknowledged: %v", s.warnings)
	}
	if !refersTo(dc["Logging"], s.logicalID(s.stack.Console.LogsBucket)) {
		t.Errorf("distribution logs %v, want the console log bucket", jsonString(dc["Logging"]))
	}
}

func TestConsoleSPARouting(t *testing.T) {
	s := synth(t, "default")
	fnID, fn := s.oneResource(t, "AWS::CloudFront::Function")
	if fn["FunctionCode"] != consoleRouterCode {
		t.Errorf("router code %v, want consoleRouterCode", fn["FunctionCode"])
	}
	_, d := s.oneResource(t, "AWS::CloudFront::Distribution")
	dc := d["DistributionConfig"].(map[string]any)
	assoc := jsonString(dc["DefaultCacheBehavior"].(map[string]any)["FunctionAssociations"])
	if !strings.Contains(assoc, `"EventType":"viewer-request"`) || !strings.Contains(assoc, fnID) {
		t.Errorf("router not associated as a viewer-request function: %s", assoc)
	}
	// Error responses would turn a missing /config.json into index.html.
	if dc["CustomErrorResponses"] != nil {
		t.Errorf("custom error responses %v: app routes are rewritten by the router, files keep their 404", jsonString(dc["CustomErrorResponses"]))
	}

	node, err := exec.LookPath("node") // the jsii runtime's own
	if err != nil {
		t.Skip("node not found")
	}
	cases := map[string]string{
		"/": "/index.html", "/callback": "/index.html", "/tokens/abc-123": "/index.html", "/tokens/": "/index.html",
		"/index.html": "/index.html", "/config.json": "/config.json", "/assets/index-Ab12.js": "/assets/index-Ab12.js",
		"/favicon.ico": "/favicon.ico", "/v1.2/route": "/index.html",
	}
	in, _ := json.Marshal(cases)
	script := consoleRouterCode + `
const cases = ` + string(in) + `;
const out = {};
for (const uri of Object.keys(cases)) out[uri] = handler({request: {uri}}).uri;
console.log(JSON.stringify(out));`
	b, err := exec.Command(node, "-e", script).Output()
	if err != nil {
		t.Fatalf("running the router: %v", err)
	}
	var got map[string]string
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("router output %q: %v", b, err)
	}
	for uri, want := range cases {
		if got[uri] != want {
			t.Errorf("router: %s -> %s, want %s", uri, got[uri], want)
		}
	}
}

// cspDirectives parses a Content-Security-Policy.
func cspDirectives(csp string) map[string][]string {
	out := map[string][]string{}
	for _, d := range strings.Split(csp, ";") {
		f := strings.Fields(d)
		if len(f) > 0 {
			out[f[0]] = f[1:]
		}
	}
	return out
}

func TestConsoleSecurityHeaders(t *testing.T) {
	for _, v := range []string{"default", "private"} {
		s := synth(t, v)
		_, p := s.oneResource(t, "AWS::CloudFront::ResponseHeadersPolicy")
		sh := p["ResponseHeadersPolicyConfig"].(map[string]any)["SecurityHeadersConfig"].(map[string]any)
		csp := flatten(sh["ContentSecurityPolicy"].(map[string]any)["ContentSecurityPolicy"])
		d := cspDirectives(csp)
		issuer := "https://idp.example.com"
		if v == "private" {
			issuer = "https://tenant.auth0.com"
		}
		idp := []string{issuer}
		if v == "private" {
			idp = append(idp, "https://lisa.auth.us-east-1.amazoncognito.com")
		}
		want := map[string][]string{
			"default-src":     {"'self'"},
			"script-src":      {"'self'"},
			"style-src":       {"'self'"},
			"img-src":         {"'self'", "data:", "blob:"},
			"font-src":        {"'self'", "data:"},
			"connect-src":     append([]string{"'self'", s.apiOrigin()}, idp...),
			"form-action":     append([]string{"'self'"}, idp...),
			"frame-ancestors": {"'none'"},
			"base-uri":        {"'self'"},
			"object-src":      {"'none'"},
		}
		if !same(d, want) {
			t.Errorf("%s: CSP\n %s\nwant\n %v", v, csp, want)
		}
		if strings.Contains(csp, "unsafe") || strings.Contains(csp, "*") {
			t.Errorf("%s: CSP allows unsafe sources or wildcards: %s", v, csp)
		}
		hsts := sh["StrictTransportSecurity"].(map[string]any)
		if age, _ := hsts["AccessControlMaxAgeSec"].(float64); age < 365*24*3600 || hsts["IncludeSubdomains"] != true || hsts["Override"] != true {
			t.Errorf("%s: HSTS %v, want max-age of a year or more, includeSubDomains", v, jsonString(hsts))
		}
		if fo := sh["FrameOptions"].(map[string]any); fo["FrameOption"] != "DENY" {
			t.Errorf("%s: X-Frame-Options %v, want DENY", v, jsonString(fo))
		}
		if sh["ContentTypeOptions"] == nil {
			t.Errorf("%s: no X-Content-Type-Options: nosniff", v)
		}
		if rp := sh["ReferrerPolicy"].(map[string]any); rp["ReferrerPolicy"] != "strict-origin-when-cross-origin" {
			t.Errorf("%s: Referrer-Policy %v", v, jsonString(rp))
		}
	}
}

func TestConsoleCustomDomain(t *testing.T) {
	s := synth(t, "private")
	_, d := s.oneResource(t, "AWS::CloudFront::Distribution")
	dc := d["DistributionConfig"].(map[string]any)
	if !same(dc["Aliases"], []any{"tokens.example.com"}) {
		t.Errorf("aliases %v, want console.domainName", jsonString(dc["Aliases"]))
	}
	want := map[string]any{"AcmCertificateArn": testConsoleCertARN, "MinimumProtocolVersion": "TLSv1.2_2021", "SslSupportMethod": "sni-only"}
	if !same(dc["ViewerCertificate"], want) {
		t.Errorf("viewer certificate %v, want %v", jsonString(dc["ViewerCertificate"]), jsonString(want))
	}
	if dc["PriceClass"] != "PriceClass_100" {
		t.Errorf("price class %v, want PriceClass_100", dc["PriceClass"])
	}
	if got := flatten(s.json["Outputs"].(map[string]any)["ConsoleUrl"].(map[string]any)["Value"]); got != "https://tokens.example.com" {
		t.Errorf("ConsoleUrl %s, want https://tokens.example.com", got)
	}
}

// consoleConfigJSON is config.json as staged in the cloud assembly, and the
// markers the deployment replaces at deploy time.
func (s *synthesized) consoleConfigJSON(t *testing.T) (map[string]string, map[string]string) {
	t.Helper()
	var found []string
	filepath.WalkDir(s.outdir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == consoleConfigKey {
			found = append(found, p)
		}
		return nil
	})
	if len(found) != 1 {
		t.Fatalf("want one staged %s in %s, got %v", consoleConfigKey, s.outdir, found)
	}
	b, err := os.ReadFile(found[0])
	if err != nil {
		t.Fatal(err)
	}
	_, dep := s.oneResource(t, "Custom::CDKBucketDeployment")
	markers := map[string]string{}
	for _, m := range listOf(dep["SourceMarkers"]) {
		for k, v := range m.(map[string]any) {
			markers[k] = flatten(v)
		}
	}
	// Replace the markers, as the deployment does (their values are
	// JSON strings, quotes included).
	text := string(b)
	for m, val := range markers {
		text = strings.ReplaceAll(text, m, val)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		t.Fatalf("config.json after deploy-time substitution is not JSON: %s: %v", text, err)
	}
	cfg := map[string]string{}
	for k, v := range raw {
		cfg[k] = fmt.Sprint(v)
	}
	return cfg, markers
}

func TestConsoleConfigJSON(t *testing.T) {
	s := synth(t, "default")
	got, _ := s.consoleConfigJSON(t)
	// The bound the console states on delete is the serve path's cache.
	if want := s.envOf(routes.FnServe)[config.EnvTokenCacheSeconds]; got["revocationSeconds"] != want {
		t.Errorf("config.json revocationSeconds = %q, want TOKEN_CACHE_SECONDS %q", got["revocationSeconds"], want)
	}
	delete(got, "revocationSeconds")
	stage := "<Ref:" + s.logicalID(s.stack.API.API.DeploymentStage()) + ">"
	want := map[string]string{
		"authority":   "https://idp.example.com/realms/lisa",
		"clientId":    "lisa-client",
		"apiUrl":      s.apiOrigin() + "/" + stage,
		"serveUrl":    "https://<" + s.logicalID(s.stack.Serve.LoadBalancer) + ".DNSName>/v2/serve",
		"adminGroup":  "lisa-admins",
		"apiGroup":    "lisa-api-users",
		"groupsClaim": "realm_access.roles",
	}
	if !same(got, want) {
		t.Errorf("config.json\n %v\nwant\n %v", jsonString(got), jsonString(want))
	}
	_, dep := s.oneResource(t, "Custom::CDKBucketDeployment")
	if len(listOf(dep["SourceObjectKeys"])) != 2 {
		t.Errorf("deployment sources %v, want build/web and config.json", jsonString(dep["SourceObjectKeys"]))
	}
	if !same(dep["SystemMetadata"], map[string]any{"cache-control": "no-cache"}) {
		t.Errorf("deployment metadata %v, want cache-control: no-cache", jsonString(dep["SystemMetadata"]))
	}
	if !same(dep["DestinationBucketName"], ref(s.consoleBucketID(t))) {
		t.Errorf("deployment goes to %v, want the console bucket", jsonString(dep["DestinationBucketName"]))
	}

	p := synth(t, "private") // console.serveUrl, and the default groups claim would be cognito:groups
	got, _ = p.consoleConfigJSON(t)
	if got["serveUrl"] != "https://llm.example.com/v2/serve" {
		t.Errorf("serveUrl %q, want console.serveUrl without its trailing slash", got["serveUrl"])
	}
}

// routeResources maps every resource of the route table to its methods.
func routeResources() map[string][]string {
	out := map[string][]string{}
	for _, r := range routes.APITokens {
		out[r.Resource] = append(out[r.Resource], r.Method)
	}
	return out
}

func TestCORSPreflight(t *testing.T) {
	for _, v := range []string{"default", "private"} {
		s := synth(t, v)
		origin := s.consoleOrigin(t)
		paths := s.apiResourcePaths()
		preflights := map[string]map[string]any{}
		withMethods := map[string]bool{}
		for _, m := range s.resources("AWS::ApiGateway::Method") {
			p := props(m)
			resID, _ := p["ResourceId"].(map[string]any)["Ref"].(string)
			withMethods[paths[resID]] = true
			if p["HttpMethod"] == "OPTIONS" {
				preflights[paths[resID]] = p
			}
		}
		for path := range withMethods {
			if preflights[path] == nil {
				t.Errorf("%s: %s has methods but no CORS preflight", v, path)
			}
		}
		for path, methods := range routeResources() {
			p := preflights[path]
			if p == nil {
				t.Errorf("%s: no OPTIONS on %s", v, path)
				continue
			}
			in := p["Integration"].(map[string]any)
			if p["AuthorizationType"] != "NONE" || p["AuthorizerId"] != nil || in["Type"] != "MOCK" {
				t.Errorf("%s: OPTIONS %s must be a MOCK without authorizer: %v", v, path, jsonString(p))
			}
			params := map[string]string{}
			for k, val := range listOf(in["IntegrationResponses"])[0].(map[string]any)["ResponseParameters"].(map[string]any) {
				params[strings.TrimPrefix(k, "method.response.header.")] = flatten(val)
			}
			if params["Access-Control-Allow-Origin"] != "'"+origin+"'" {
				t.Errorf("%s: OPTIONS %s allows origin %s, want '%s'", v, path, params["Access-Control-Allow-Origin"], origin)
			}
			if params["Access-Control-Allow-Headers"] != "'Authorization,Api-Key,Content-Type'" {
				t.Errorf("%s: OPTIONS %s allows headers %s", v, path, params["Access-Control-Allow-Headers"])
			}
			want := "'" + strings.Join(append(sortedCopy(methods), "OPTIONS"), ",") + "'"
			if params["Access-Control-Allow-Methods"] != want {
				t.Errorf("%s: OPTIONS %s allows methods %s, want %s", v, path, params["Access-Control-Allow-Methods"], want)
			}
		}
	}
}

func TestGatewayResponsesCarryTheConsoleOrigin(t *testing.T) {
	for _, v := range []string{"default", "private"} {
		s := synth(t, v)
		origin := s.consoleOrigin(t)
		types := map[string]bool{}
		for id, r := range s.resources("AWS::ApiGateway::GatewayResponse") {
			p := props(r)
			types[p["ResponseType"].(string)] = true
			params, _ := p["ResponseParameters"].(map[string]any)
			if got := flatten(params["gatewayresponse.header.Access-Control-Allow-Origin"]); got != "'"+origin+"'" {
				t.Errorf("%s: gateway response %s (%v) allows origin %s, want '%s'", v, id, p["ResponseType"], got, origin)
			}
		}
		for _, typ := range []string{"DEFAULT_4XX", "DEFAULT_5XX", "MISSING_AUTHENTICATION_TOKEN"} {
			if !types[typ] {
				t.Errorf("%s: no %s gateway response", v, typ)
			}
		}
		if j := jsonString(s.json); strings.Contains(j, `"'*'"`) {
			t.Errorf("%s: the template allows any origin ('*')", v)
		}
	}
}

func TestConsoleOriginOnTokenFunctions(t *testing.T) {
	s := synth(t, "default")
	origin := s.consoleOrigin(t)
	fns := s.resources("AWS::Lambda::Function")
	for _, r := range routes.APITokens {
		vars := props(fns[s.logicalID(s.stack.Functions.ByName[r.Function])])["Environment"].(map[string]any)["Variables"].(map[string]any)
		if got := flatten(vars[config.EnvConsoleOrigin]); got != origin {
			t.Errorf("%s: %s=%s, want %s", r.Function, config.EnvConsoleOrigin, got, origin)
		}
	}
	for _, name := range []string{routes.FnAuthorizer, routes.FnServe} {
		if _, ok := s.envOf(name)[config.EnvConsoleOrigin]; ok {
			t.Errorf("%s has %s; only the API's functions answer the browser", name, config.EnvConsoleOrigin)
		}
	}
	out, ok := s.json["Outputs"].(map[string]any)["ConsoleUrl"].(map[string]any)
	if !ok || flatten(out["Value"]) != origin {
		t.Errorf("ConsoleUrl output %v, want %s", jsonString(out), origin)
	}
}

func TestConsoleRemovalPolicy(t *testing.T) {
	for v, destroy := range map[string]bool{"default": false, "override": true} {
		s := synth(t, v)
		b := s.resources("AWS::S3::Bucket")[s.consoleBucketID(t)]
		wantPolicy := map[bool]string{false: "Retain", true: "Delete"}[destroy]
		if b["DeletionPolicy"] != wantPolicy {
			t.Errorf("%s: console bucket DeletionPolicy %v, want %s", v, b["DeletionPolicy"], wantPolicy)
		}
		if n := len(s.resources("Custom::S3AutoDeleteObjects")); (n == 1) != destroy {
			t.Errorf("%s: %d auto-delete resources; want one only with removalPolicy: destroy", v, n)
		}
	}
}

func TestConsoleDisabledCreatesNothing(t *testing.T) {
	s := synth(t, "listener") // console.enabled: false
	if s.stack.Console != nil {
		t.Fatal("console built with console.enabled: false")
	}
	j := jsonString(s.json)
	for _, typ := range []string{"AWS::CloudFront::", "AWS::S3::", "Custom::CDKBucketDeployment", "Custom::S3AutoDeleteObjects"} {
		if strings.Contains(j, `"Type":"`+typ) {
			t.Errorf("console disabled, but the template has %s resources", typ)
		}
	}
	for id, m := range s.resources("AWS::ApiGateway::Method") {
		if props(m)["HttpMethod"] == "OPTIONS" {
			t.Errorf("console disabled, but %s answers OPTIONS", id)
		}
	}
	if strings.Contains(j, "Access-Control-Allow-Origin") || strings.Contains(j, config.EnvConsoleOrigin) {
		t.Error("console disabled, but the template carries CORS headers or CONSOLE_ORIGIN")
	}
	if _, ok := s.json["Outputs"].(map[string]any)["ConsoleUrl"]; ok {
		t.Error("console disabled, but there is a ConsoleUrl output")
	}
}

func TestConsoleWebDir(t *testing.T) {
	if dir, placeholder, err := ConsoleWebDir(testBuildDir); err != nil || placeholder || dir != filepath.Join(testBuildDir, "web") {
		t.Errorf("ConsoleWebDir(test build) = %q, %v, %v; want its web folder", dir, placeholder, err)
	}
	empty := t.TempDir()
	t.Setenv(EnvWebPlaceholder, "")
	_, _, err := ConsoleWebDir(empty)
	if err == nil || !strings.Contains(err.Error(), "make web") || !strings.Contains(err.Error(), "console.enabled") {
		t.Errorf("missing console build: want an error naming `make web` and console.enabled, got %v", err)
	}
	t.Setenv(EnvWebPlaceholder, "1")
	dir, placeholder, err := ConsoleWebDir(empty)
	if err != nil || !placeholder {
		t.Fatalf("with %s=1: %q, %v, %v", EnvWebPlaceholder, dir, placeholder, err)
	}
	if strings.HasPrefix(dir, empty) {
		t.Errorf("placeholder written into the build directory (%s): a later deploy could ship it", dir)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "index.html")); err != nil || !strings.Contains(string(b), "make web") {
		t.Errorf("placeholder index.html: %q, %v", b, err)
	}
}

func TestConsoleNagSuppressionsAreScoped(t *testing.T) {
	// CFR4 (TLSv1 on the default certificate) is accepted only without a
	// custom domain; with one, the distribution must pass on its own.
	for v, want := range map[string]bool{"default": true, "private": false} {
		s := synth(t, v)
		distID, _ := s.oneResource(t, "AWS::CloudFront::Distribution")
		md := jsonString(s.resources("AWS::CloudFront::Distribution")[distID]["Metadata"])
		if got := strings.Contains(md, "AwsSolutions-CFR4"); got != want {
			t.Errorf("%s: CFR4 suppressed = %v, want %v", v, got, want)
		}
	}
	s := synth(t, "default")
	for id, m := range s.resources("AWS::ApiGateway::Method") {
		md := jsonString(m["Metadata"])
		if props(m)["HttpMethod"] == "OPTIONS" {
			if !strings.Contains(md, "AwsSolutions-APIG4") {
				t.Errorf("%s: preflight without its APIG4 reason", id)
			}
		} else if strings.Contains(md, "AwsSolutions-APIG4") {
			t.Errorf("%s: an authorized method must not suppress APIG4", id)
		}
	}
}
