package apigw_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"
	"gopkg.in/yaml.v3"

	"github.com/llmgw/apitokens/pkg/apigw"
	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/limits"
	"github.com/llmgw/apitokens/pkg/routes"
	"github.com/llmgw/apitokens/pkg/store"
	"github.com/llmgw/apitokens/pkg/store/memstore"
	"github.com/llmgw/apitokens/pkg/tokensvc"
	"github.com/llmgw/apitokens/pkg/usage"
)

// The tests in this file keep pkg/apigw/openapi.yaml true. Besides the
// checks below, env.send holds every answer of every test in this package
// against the document (checkDocumented): its status must be documented
// for the operation, its body must match that status's schema, and a
// create the handlers accept (201) or refuse as malformed (422) must be
// accepted or refused by the request schema too.

type obj = map[string]any

// openAPI is the embedded document, parsed once.
var openAPI = sync.OnceValues(func() (obj, error) {
	var d obj
	if err := yaml.Unmarshal(apigw.OpenAPI, &d); err != nil {
		return nil, err
	}
	return d, nil
})

func document(t testing.TB) obj {
	t.Helper()
	d, err := openAPI()
	if err != nil {
		t.Fatalf("openapi.yaml does not parse: %v", err)
	}
	return d
}

// deref follows a local "$ref" ("#/components/...") until there is none.
func deref(t testing.TB, d, node obj) obj {
	t.Helper()
	for i := 0; ; i++ {
		ref, ok := node["$ref"].(string)
		if !ok {
			return node
		}
		if i > 10 || !strings.HasPrefix(ref, "#/") {
			t.Fatalf("unresolvable $ref %q", ref)
		}
		var cur any = d
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			m, _ := cur.(obj)
			cur = m[part]
		}
		next, ok := cur.(obj)
		if !ok {
			t.Fatalf("$ref %q names nothing", ref)
		}
		node = next
	}
}

func child(node obj, keys ...string) obj {
	for _, k := range keys {
		node, _ = node[k].(obj)
	}
	return node
}

// operation is the document's operation for an API Gateway route.
func operation(t testing.TB, method, resource string) obj {
	t.Helper()
	return child(document(t), "paths", resource, strings.ToLower(method))
}

// responseSchema is the application/json schema of op's answer with status,
// or nil if the status is not documented.
func responseSchema(t testing.TB, op obj, status int) obj {
	t.Helper()
	d := document(t)
	r := child(op, "responses")[strconv.Itoa(status)]
	if r == nil {
		return nil
	}
	resp, _ := r.(obj)
	return deref(t, d, child(deref(t, d, resp), "content", "application/json", "schema"))
}

func requestSchema(t testing.TB, op obj) obj {
	t.Helper()
	d := document(t)
	return deref(t, d, child(deref(t, d, child(op, "requestBody")), "content", "application/json", "schema"))
}

// parameters are op's parameters, by "in/name".
func parameters(t testing.TB, op obj) map[string]obj {
	t.Helper()
	out := map[string]obj{}
	ps, _ := op["parameters"].([]any)
	for _, p := range ps {
		m, _ := p.(obj)
		m = deref(t, document(t), m)
		out[fmt.Sprint(m["in"], "/", m["name"])] = m
	}
	return out
}

// annotations are keywords that describe and do not constrain; the
// validator skips them. Any other keyword it does not implement fails the
// test, so the document cannot promise what is not checked.
var annotations = map[string]bool{"description": true, "default": true, "title": true, "examples": true}

// validate checks v (as encoding/json decodes into any) against the
// subset of JSON Schema the document uses.
func validate(t testing.TB, schema obj, v any, at string) []string {
	t.Helper()
	schema = deref(t, document(t), schema)
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	for k := range schema {
		switch k {
		case "type", "properties", "required", "additionalProperties", "items", "maxItems", "enum",
			"pattern", "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "anyOf", "not", "format":
		default:
			if !annotations[k] {
				fail("the validator does not implement keyword %q", k)
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	typ := schema["type"]
	if typ == nil && schema["anyOf"] == nil {
		// Untyped (as under "not"): the keywords apply to the kind v has.
		switch v.(type) {
		case obj:
			typ = "object"
		case []any:
			typ = "array"
		}
	}
	switch typ {
	case nil:
	case "object":
		m, ok := v.(obj)
		if !ok {
			fail("%v is not an object", v)
			return errs
		}
		props := child(schema, "properties")
		for _, r := range list(schema["required"]) {
			if _, ok := m[r]; !ok {
				fail("required property %q is missing", r)
			}
		}
		for k, pv := range m {
			ps, ok := props[k].(obj)
			if !ok {
				if schema["additionalProperties"] == false {
					fail("property %q is not documented", k)
				}
				continue
			}
			errs = append(errs, validate(t, ps, pv, at+"."+k)...)
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			fail("%v is not an array", v)
			return errs
		}
		if n, ok := schema["maxItems"].(int); ok && len(a) > n {
			fail("%d items, at most %d allowed", len(a), n)
		}
		if items := child(schema, "items"); items != nil {
			for i, it := range a {
				errs = append(errs, validate(t, items, it, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	case "string":
		s, ok := v.(string)
		if !ok {
			fail("%v is not a string", v)
			return errs
		}
		n := utf8.RuneCountInString(s)
		if min, ok := schema["minLength"].(int); ok && n < min {
			fail("%q is shorter than %d", s, min)
		}
		if max, ok := schema["maxLength"].(int); ok && n > max {
			fail("%d characters, at most %d allowed", n, max)
		}
		if p, ok := schema["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(s) {
			fail("%q does not match %s", s, p)
		}
		if schema["format"] == "uuid" {
			if _, err := uuid.Parse(s); err != nil || len(s) != 36 {
				fail("%q is not a UUID", s)
			}
		}
	case "integer":
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) {
			fail("%v is not an integer", v)
			return errs
		}
		if min, ok := number(schema["minimum"]); ok && f < min {
			fail("%v is below %v", f, min)
		}
		if max, ok := number(schema["maximum"]); ok && f > max {
			fail("%v is above %v", f, max)
		}
	case "number":
		f, ok := v.(float64)
		if !ok {
			fail("%v is not a number", v)
			return errs
		}
		if min, ok := number(schema["minimum"]); ok && f < min {
			fail("%v is below %v", f, min)
		}
		if min, ok := number(schema["exclusiveMinimum"]); ok && f <= min {
			fail("%v is not above %v", f, min)
		}
		if max, ok := number(schema["maximum"]); ok && f > max {
			fail("%v is above %v", f, max)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			fail("%v is not a boolean", v)
		}
	case "null":
		if v != nil {
			fail("%v is not null", v)
		}
	default:
		fail("the validator does not implement type %v", typ)
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.Contains(enum, v) {
		fail("%v is not one of %v", v, enum)
	}
	if anyOf, ok := schema["anyOf"].([]any); ok {
		var all []string
		for _, alt := range anyOf {
			es := validate(t, alt.(obj), v, at)
			if len(es) == 0 {
				all = nil
				break
			}
			all = append(all, es...)
		}
		if all != nil {
			fail("matches no alternative of anyOf: %s", strings.Join(all, "; "))
		}
	}
	if not := child(schema, "not"); not != nil && len(validate(t, not, v, at)) == 0 {
		fail("%v matches a schema it must not match (not: %v)", v, not)
	}
	return errs
}

// number is a numeric keyword's value as YAML decoded it.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

func list(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// checkDocumented holds one answer of the real handlers against the
// document. env.send calls it for every answer of every test here.
func checkDocumented(t testing.TB, rt routes.Route, params, query map[string]string, reqBody string, out events.APIGatewayProxyResponse) {
	t.Helper()
	op := operation(t, rt.Method, rt.Resource)
	if op == nil {
		t.Errorf("openapi.yaml has no operation %s %s", rt.Method, rt.Resource)
		return
	}
	where := fmt.Sprintf("%s %s %d", rt.Method, rt.Resource, out.StatusCode)
	schema := responseSchema(t, op, out.StatusCode)
	if schema == nil {
		t.Errorf("%s: the handlers answer status %d, which openapi.yaml does not document for this operation (body %s)", where, out.StatusCode, out.Body)
		return
	}
	var body any
	if err := json.Unmarshal([]byte(out.Body), &body); err != nil {
		t.Errorf("%s: body is not JSON: %v", where, err)
		return
	}
	for _, e := range validate(t, schema, body, "response") {
		t.Errorf("%s: %s (body %s)", where, e, out.Body)
	}
	if out.StatusCode < 300 {
		// What the handlers accept, the document accepts.
		ps := parameters(t, op)
		for name, v := range params {
			checkParam(t, where, ps, "path", name, v)
		}
		for name, v := range query {
			checkParam(t, where, ps, "query", name, v)
		}
		if child(op, "requestBody") != nil && strings.TrimSpace(reqBody) != "" {
			var req any
			if err := json.Unmarshal([]byte(reqBody), &req); err != nil {
				t.Errorf("%s: accepted a body that is not JSON", where)
			}
			for _, e := range validate(t, requestSchema(t, op), req, "request") {
				t.Errorf("%s: the handler accepted a body the document refuses: %s (body %s)", where, e, reqBody)
			}
		}
	}
	if out.StatusCode == http.StatusUnprocessableEntity && child(op, "requestBody") != nil {
		// What the handlers refuse as malformed, the document refuses.
		var req any
		if utf8.ValidString(reqBody) && json.Unmarshal([]byte(reqBody), &req) == nil {
			if len(validate(t, requestSchema(t, op), req, "request")) == 0 {
				t.Errorf("%s: the handler refused as malformed a body the document accepts: %s", where, reqBody)
			}
		}
	}
}

func checkParam(t testing.TB, where string, ps map[string]obj, in, name, value string) {
	t.Helper()
	p, ok := ps[in+"/"+name]
	if !ok {
		t.Errorf("%s: %s parameter %q is not documented", where, in, name)
		return
	}
	schema := deref(t, document(t), child(p, "schema"))
	var v any = value
	if schema["type"] == "integer" {
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			t.Errorf("%s: %s parameter %s=%q accepted but is not an integer", where, in, name, value)
			return
		}
		v = float64(n)
	}
	for _, e := range validate(t, schema, v, in+" parameter "+name) {
		t.Errorf("%s: %s", where, e)
	}
}

// TestOpenAPIRoutes: the document's operations are exactly the routes.
func TestOpenAPIRoutes(t *testing.T) {
	var want, got []string
	for _, rt := range routes.APITokens {
		want = append(want, rt.Method+" "+rt.Resource)
	}
	for path, item := range child(document(t), "paths") {
		for method := range item.(obj) {
			switch method {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
				got = append(got, strings.ToUpper(method)+" "+path)
			}
		}
	}
	sort.Strings(want)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Fatalf("openapi.yaml operations %v, routes.APITokens %v", got, want)
	}
}

type jsonField struct {
	name     string
	required bool // no omitempty
	kind     reflect.Kind
}

func jsonFields(typ reflect.Type) []jsonField {
	var out []jsonField
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		if f.Anonymous && f.Tag.Get("json") == "" && f.Type.Kind() == reflect.Struct {
			// An embedded struct's fields are the outer object's, as encoding/json writes them.
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		k := f.Type.Kind()
		if k == reflect.Pointer {
			k = f.Type.Elem().Kind()
		}
		if f.Type == reflect.TypeFor[json.RawMessage]() {
			// Kept raw to tell null from absent: an object (or null) in JSON.
			k = reflect.Struct
		}
		out = append(out, jsonField{name: name, required: !strings.Contains(opts, "omitempty"), kind: k})
	}
	return out
}

var schemaType = map[reflect.Kind]string{
	reflect.String: "string", reflect.Int64: "integer", reflect.Int: "integer", reflect.Bool: "boolean",
	reflect.Slice: "array", reflect.Struct: "object", reflect.Float64: "number",
}

// TestOpenAPISchemasMatchTheTypes: each schema has exactly the JSON fields
// of the Go type it describes, with their types; response schemas require
// exactly the fields that are never omitted and allow no others.
func TestOpenAPISchemasMatchTheTypes(t *testing.T) {
	d := document(t)
	for name, typ := range map[string]reflect.Type{
		"CreateRequest":    reflect.TypeFor[tokensvc.CreateRequest](),
		"Created":          reflect.TypeFor[tokensvc.Created](),
		"View":             reflect.TypeFor[tokensvc.View](),
		"ListResult":       reflect.TypeFor[tokensvc.ListResult](),
		"Deleted":          reflect.TypeFor[tokensvc.Deleted](),
		"SettingsRequest":  reflect.TypeFor[tokensvc.SettingsRequest](),
		"Settings":         reflect.TypeFor[tokensvc.SettingsView](),
		"Error":            reflect.TypeFor[apigw.ErrorBody](),
		"PatchRequest":     reflect.TypeFor[tokensvc.PatchRequest](),
		"RotateRequest":    reflect.TypeFor[tokensvc.RotateRequest](),
		"Rotated":          reflect.TypeFor[tokensvc.Rotated](),
		"Revoked":          reflect.TypeFor[tokensvc.Revoked](),
		"EventList":        reflect.TypeFor[tokensvc.EventList](),
		"Event":            reflect.TypeFor[tokensvc.EventView](),
		"Change":           reflect.TypeFor[tokensvc.ChangeView](),
		"Limits":           reflect.TypeFor[limits.Limits](),
		"UsageTotals":      reflect.TypeFor[tokensvc.UsageTotals](),
		"DayUsage":         reflect.TypeFor[tokensvc.DayUsage](),
		"TokenUsage":       reflect.TypeFor[tokensvc.TokenUsage](),
		"UserUsage":        reflect.TypeFor[tokensvc.UserUsage](),
		"TokenUsageTotals": reflect.TypeFor[tokensvc.TokenUsageTotals](),
		"UsageReport":      reflect.TypeFor[tokensvc.UsageReport](),
	} {
		t.Run(name, func(t *testing.T) {
			s := child(d, "components", "schemas", name)
			if s == nil {
				t.Fatalf("no schema %s", name)
			}
			if s["type"] != "object" || s["additionalProperties"] != false {
				t.Errorf("%s must be an object with additionalProperties: false (unknown fields are refused, and answers carry no undocumented ones)", name)
			}
			props := child(s, "properties")
			var wantProps, gotProps, wantReq []string
			for _, f := range jsonFields(typ) {
				if name == "PatchRequest" && f.name == "groups" {
					// Decoded only to be refused with a 400: not a property to send.
					continue
				}
				wantProps = append(wantProps, f.name)
				if f.required {
					wantReq = append(wantReq, f.name)
				}
				ps := deref(t, d, child(props, f.name))
				if alts, ok := ps["anyOf"].([]any); ok && ps["type"] == nil {
					// A nullable property: its first alternative is the value.
					ps = deref(t, d, alts[0].(obj))
				}
				if ps != nil && ps["type"] != schemaType[f.kind] {
					t.Errorf("%s.%s: type %v in the document, Go kind %s", name, f.name, ps["type"], f.kind)
				}
			}
			for p := range props {
				gotProps = append(gotProps, p)
			}
			sort.Strings(wantProps)
			sort.Strings(gotProps)
			if !slices.Equal(gotProps, wantProps) {
				t.Errorf("%s properties: document %v, Go json fields %v", name, gotProps, wantProps)
			}
			switch name {
			case "CreateRequest":
				// Every field is optional to the decoder; name is required by the rules (400).
				wantReq = []string{"name"}
			case "PatchRequest", "RotateRequest":
				// Every field is optional; an empty PATCH is a 400 by the rules.
				wantReq = nil
			case "Rotated":
				// Omitted from a create's answer, always set on a rotation's.
				wantReq = append(wantReq, "rotatedFrom")
			}
			gotReq := list(s["required"])
			sort.Strings(wantReq)
			sort.Strings(gotReq)
			if !slices.Equal(gotReq, wantReq) {
				t.Errorf("%s required: document %v, want %v", name, gotReq, wantReq)
			}
		})
	}
}

// TestOpenAPILimits: the limits the document states are the code's.
func TestOpenAPILimits(t *testing.T) {
	d := document(t)
	req := child(d, "components", "schemas", "CreateRequest", "properties")
	listParams := parameters(t, operation(t, "GET", "/api-tokens"))
	username := child(d, "components", "schemas", "Username")
	for what, c := range map[string]struct{ got, want any }{
		"name maxLength":      {child(req, "name")["maxLength"], tokensvc.MaxNameLen},
		"name minLength":      {child(req, "name")["minLength"], 1},
		"groups maxItems":     {child(req, "groups")["maxItems"], tokensvc.MaxGroups},
		"group maxLength":     {child(req, "groups", "items")["maxLength"], tokensvc.MaxGroupLen},
		"group minLength":     {child(req, "groups", "items")["minLength"], 1},
		"username maxLength":  {username["maxLength"], tokensvc.MaxUsernameLen},
		"limit maximum":       {child(listParams["query/limit"], "schema")["maximum"], tokensvc.MaxListLimit},
		"limit minimum":       {child(listParams["query/limit"], "schema")["minimum"], 1},
		"limit default":       {child(listParams["query/limit"], "schema")["default"], tokensvc.DefaultLimit},
		"token pattern":       {child(d, "components", "schemas", "Created", "properties", "token")["pattern"], "^[0-9a-f]{128}$"},
		"limit count minimum": {child(d, "components", "schemas", "LimitCount")["minimum"], 1},
		"limit count maximum": {int64(child(d, "components", "schemas", "LimitCount")["maximum"].(int)), limits.MaxCount},
		"budget maximum":      {float64(child(d, "components", "schemas", "Limits", "properties", "budgetPerMonth")["maximum"].(int)), limits.MaxBudget},
		"16 KiB in the prose": {strings.Contains(fmt.Sprint(child(d, "info")["description"]), strconv.Itoa(apigw.MaxBodyBytes)), true},
	} {
		if c.got != c.want {
			t.Errorf("%s: document %v, code %v", what, c.got, c.want)
		}
	}
	// Every error answer is the Error schema.
	for path, item := range child(d, "paths") {
		for method, op := range item.(obj) {
			for status := range child(op.(obj), "responses") {
				n, _ := strconv.Atoi(status)
				s := responseSchema(t, op.(obj), n)
				if n >= 400 && !reflect.DeepEqual(s, child(d, "components", "schemas", "Error")) {
					t.Errorf("%s %s %s: error answers must be the Error schema", method, path, status)
				}
				if s == nil {
					t.Errorf("%s %s %s: no application/json schema", method, path, status)
				}
			}
		}
	}
}

// downStore is a token store that cannot be reached.
type downStore struct{ store.Store }

var errDown = errors.New("dial tcp: connection refused")

func (downStore) Create(context.Context, store.Token, ...store.Event) error { return errDown }
func (downStore) GetByHash(context.Context, string) (store.Token, error) {
	return store.Token{}, errDown
}
func (downStore) GetByUUID(context.Context, string) (store.Token, error) {
	return store.Token{}, errDown
}
func (downStore) GetLegacy(context.Context, string) (store.Token, error) {
	return store.Token{}, errDown
}
func (downStore) Delete(context.Context, store.Token, ...store.Event) error { return errDown }
func (downStore) Update(context.Context, store.Token, store.Token, ...store.Event) error {
	return errDown
}
func (downStore) Rotate(context.Context, store.Token, store.Token, store.Token, ...store.Event) error {
	return errDown
}
func (downStore) TouchLastUsed(context.Context, string, int64) error { return errDown }
func (downStore) Events(context.Context, store.EventQuery) (store.EventPage, error) {
	return store.EventPage{}, errDown
}
func (downStore) List(context.Context, store.ListOptions) (store.Page, error) {
	return store.Page{}, errDown
}
func (downStore) GetSettings(context.Context) (store.Settings, error) {
	return store.Settings{}, errDown
}
func (downStore) PutSettings(context.Context, store.Settings, ...store.Event) error { return errDown }

// racingStore is a working store whose every Update and Rotate loses a
// race, as when another change to the same token commits first.
type racingStore struct{ store.Store }

func (racingStore) Update(context.Context, store.Token, store.Token, ...store.Event) error {
	return store.ErrConflict
}
func (racingStore) Rotate(context.Context, store.Token, store.Token, store.Token, ...store.Event) error {
	return store.ErrConflict
}

// TestOpenAPIStatusesAreTheHandlers: for every operation, the statuses the
// document lists are exactly those the real handlers answer: each call
// below is held against the document by env.send, and every documented
// status is produced by at least one of them.
func TestOpenAPIStatusesAreTheHandlers(t *testing.T) {
	seen := map[string]map[int]bool{}
	note := func(method, path string, status int) {
		rt, _, _ := routes.Match(method, strings.SplitN(path, "?", 2)[0])
		k := rt.Method + " " + rt.Resource
		if seen[k] == nil {
			seen[k] = map[int]bool{}
		}
		seen[k][status] = true
	}
	big := fmt.Sprintf(`{"name":"x","pad":%q}`, strings.Repeat("p", apigw.MaxBodyBytes))
	legacyID := "legacy-0123456789abcdef"

	// Success and every refusal class, on a working store.
	used := &fakeUsage{}
	e := newEnvWith(t, memstore.New(), []tokensvc.Option{tokensvc.WithUsage(used)})
	run := func(e *env, who auth.Principal, method, path, body string, want int) resp {
		t.Helper()
		r := e.do(who, method, path, body)
		e.want(r, want, "")
		note(method, path, r.status)
		return r
	}
	own := run(e, alice, "POST", "/api-tokens/", `{"name":"mine","expiresIn":"1d"}`, 201)
	run(e, alice, "POST", "/api-tokens/", `{"name":"again"}`, 400)
	run(e, carol, "POST", "/api-tokens/", `{"name":"x"}`, 403)
	run(e, alice, "POST", "/api-tokens/", big, 413)
	run(e, alice, "POST", "/api-tokens/", `{"name":"x","extra":1}`, 422)
	sys := run(e, admin, "POST", "/api-tokens/bob", `{"name":"svc","isSystemToken":true,"groups":["lisa-api-users"],"tokenExpiration":1800003600}`, 201)
	run(e, admin, "POST", "/api-tokens/a%20b", `{"name":"x"}`, 400)
	run(e, alice, "POST", "/api-tokens/bob", `{"name":"x"}`, 401)
	run(e, admin, "POST", "/api-tokens/bob", big, 413)
	run(e, admin, "POST", "/api-tokens/bob", `{"name":5}`, 422)
	run(e, admin, "GET", "/api-tokens/?limit=1&username=bob", "", 200)
	run(e, alice, "GET", "/api-tokens/?limit=0", "", 400)
	run(e, alice, "GET", "/api-tokens/?username=bob", "", 403)
	run(e, alice, "GET", "/api-tokens/", big, 413)
	id := own.str("tokenUUID")
	run(e, alice, "GET", "/api-tokens/"+id, "", 200)
	run(e, alice, "GET", "/api-tokens/not-a-uuid", "", 400)
	run(e, carol, "GET", "/api-tokens/"+id, "", 403)
	run(e, bob, "GET", "/api-tokens/"+id, "", 404)
	run(e, alice, "GET", "/api-tokens/"+id, big, 413)
	run(e, admin, "DELETE", "/api-tokens/legacy-zz", "", 400)
	run(e, alice, "DELETE", "/api-tokens/"+legacyID, "", 403)
	run(e, bob, "DELETE", "/api-tokens/"+id, "", 404)
	run(e, alice, "DELETE", "/api-tokens/"+id, big, 413)
	run(e, admin, "GET", "/api-tokens/"+uuid.NewString(), "", 404)
	run(e, carol, "GET", "/settings", "", 200)
	run(e, alice, "GET", "/settings", big, 413)
	run(e, admin, "PUT", "/settings", `{"allowUserManagedTokens":true}`, 200)
	run(e, admin, "PUT", "/settings", `{}`, 400)
	run(e, alice, "PUT", "/settings", `{"allowUserManagedTokens":true}`, 403)
	run(e, admin, "PUT", "/settings", big, 413)
	run(e, admin, "PUT", "/settings", `{"allowUserManagedTokens":"yes"}`, 422)
	run(e, alice, "PATCH", "/api-tokens/"+id, `{"name":"renamed"}`, 200)
	run(e, alice, "PATCH", "/api-tokens/"+id, `{}`, 400)
	run(e, carol, "PATCH", "/api-tokens/"+id, `{"name":"x"}`, 403)
	run(e, bob, "PATCH", "/api-tokens/"+id, `{"name":"x"}`, 404)
	run(e, alice, "PATCH", "/api-tokens/"+id, big, 413)
	run(e, alice, "PATCH", "/api-tokens/"+id, `{"name":"x","extra":1}`, 422)
	run(e, alice, "POST", "/api-tokens/"+id+"/rotate", `{"gracePeriod":"9d"}`, 400)
	run(e, carol, "POST", "/api-tokens/"+id+"/rotate", ``, 403)
	run(e, bob, "POST", "/api-tokens/"+id+"/rotate", ``, 404)
	run(e, alice, "POST", "/api-tokens/"+id+"/rotate", big, 413)
	run(e, alice, "POST", "/api-tokens/"+id+"/rotate", `{"grace":"1h"}`, 422)
	run(e, alice, "GET", "/api-tokens/"+id+"/events", "", 200)
	run(e, alice, "GET", "/api-tokens/"+id+"/events?limit=0", "", 400)
	run(e, alice, "GET", "/api-tokens/"+legacyID+"/events", "", 403)
	run(e, bob, "GET", "/api-tokens/"+id+"/events", "", 404)
	run(e, alice, "GET", "/api-tokens/"+id+"/events", big, 413)
	run(e, admin, "GET", "/api-token-events?limit=10&username=alice", "", 200)
	run(e, admin, "GET", "/api-token-events?from=x", "", 400)
	run(e, alice, "GET", "/api-token-events", "", 403)
	run(e, admin, "GET", "/api-token-events", big, 413)
	used.seed(usage.Row{TokenUUID: id, Username: "alice", Day: "2027-01-15", Requests: 2, PromptTokens: 7, CompletionTokens: 3, CostNanos: 1_250_000})
	run(e, alice, "GET", "/api-tokens/"+id+"/usage?from=2027-01-01&to=2027-01-15", "", 200)
	run(e, alice, "GET", "/api-tokens/"+id+"/usage?from=2027-01-16&to=2027-01-15", "", 400)
	run(e, bob, "GET", "/api-tokens/"+id+"/usage", "", 404)
	run(e, alice, "GET", "/api-tokens/"+id+"/usage", big, 413)
	run(e, admin, "GET", "/api-token-usage?username=alice&from=2027-01-01&to=2027-01-31", "", 200)
	run(e, admin, "GET", "/api-token-usage?from=2020-01-01", "", 400)
	run(e, alice, "GET", "/api-token-usage", "", 403)
	run(e, admin, "GET", "/api-token-usage", big, 413)
	run(e, admin, "PATCH", "/api-tokens/"+id, `{"limits":{"requestsPerMinute":60,"budgetPerMonth":2.5}}`, 200)
	run(e, alice, "PATCH", "/api-tokens/"+id, `{"limits":{"requestsPerMinute":0}}`, 400)
	run(e, alice, "PATCH", "/api-tokens/"+id, `{"limits":{"rpm":1}}`, 422)
	run(e, admin, "DELETE", "/api-tokens/?username=nobody", "", 200)
	run(e, admin, "DELETE", "/api-tokens/", "", 400)
	run(e, alice, "DELETE", "/api-tokens/?username=bob", "", 403)
	run(e, admin, "DELETE", "/api-tokens/?username=nobody", big, 413)
	rotated := run(e, alice, "POST", "/api-tokens/"+id+"/rotate", `{"gracePeriod":"1h"}`, 201)
	id = rotated.str("tokenUUID")

	// 409: another change to the same token won the race.
	racing := newEnv(t, racingStore{memstore.New()})
	mine := racing.create(alice, "", `{"name":"mine"}`).str("tokenUUID")
	run(racing, alice, "PATCH", "/api-tokens/"+mine, `{"name":"x"}`, 409)
	run(racing, alice, "POST", "/api-tokens/"+mine+"/rotate", ``, 409)

	// 401 from the functions themselves: a deleted token, with the
	// authorizer decision made before it was deleted.
	tok := sys.str("token")
	decision := e.as(tok)
	stale := func(method, path, body string) {
		t.Helper()
		r := e.withStaleDecision(decision, tok, method, path, body)
		e.want(r, 401, "")
		note(method, path, r.status)
	}
	run(e, admin, "DELETE", "/api-tokens/"+sys.str("tokenUUID"), "", 200)
	stale("POST", "/api-tokens/", `{"name":"x"}`)
	stale("GET", "/api-tokens/", "")
	stale("GET", "/api-tokens/"+id, "")
	stale("DELETE", "/api-tokens/"+id, "")
	stale("GET", "/settings", "")
	stale("PUT", "/settings", `{"allowUserManagedTokens":true}`)
	stale("PATCH", "/api-tokens/"+id, `{"name":"x"}`)
	stale("POST", "/api-tokens/"+id+"/rotate", ``)
	stale("GET", "/api-tokens/"+id+"/events", "")
	stale("GET", "/api-token-events", "")
	stale("DELETE", "/api-tokens/?username=alice", "")
	stale("GET", "/api-tokens/"+id+"/usage", "")
	stale("GET", "/api-token-usage", "")

	// 503: the token store cannot be reached.
	down := newEnv(t, downStore{})
	run(down, alice, "POST", "/api-tokens/", `{"name":"x"}`, 503)
	run(down, admin, "POST", "/api-tokens/bob", `{"name":"x"}`, 503)
	run(down, alice, "GET", "/api-tokens/", "", 503)
	run(down, alice, "GET", "/api-tokens/"+id, "", 503)
	run(down, alice, "DELETE", "/api-tokens/"+id, "", 503)
	run(down, alice, "GET", "/settings", "", 503)
	run(down, admin, "PUT", "/settings", `{"allowUserManagedTokens":false}`, 503)
	run(down, alice, "PATCH", "/api-tokens/"+id, `{"name":"x"}`, 503)
	run(down, alice, "POST", "/api-tokens/"+id+"/rotate", ``, 503)
	run(down, alice, "GET", "/api-tokens/"+id+"/events", "", 503)
	run(down, admin, "GET", "/api-token-events", "", 503)
	run(down, admin, "DELETE", "/api-tokens/?username=alice", "", 503)
	usageDown := newEnvWith(t, memstore.New(), []tokensvc.Option{tokensvc.WithUsage(&fakeUsage{err: errDown})})
	run(usageDown, alice, "GET", "/api-tokens/"+id+"/usage", "", 503)
	run(usageDown, admin, "GET", "/api-token-usage", "", 503)

	// 500: an internal error (here: token functions built without the
	// authenticator that decides API-token calls afresh).
	st := memstore.New()
	broken := newEnv(t, st)
	svc := tokensvc.New(st, tokensvc.Config{Groups: groups, DefaultTokenDays: 90, MaxTokenDays: 365, AllowUserManaged: true})
	for name, h := range apigw.Handlers(svc) {
		broken.fns[name] = apigw.Adapt(h, nil, nil)
	}
	c := broken.create(admin, "bob", `{"name":"b","groups":["lisa-api-users"]}`)
	bobTok := broken.as(c.str("token"))
	for _, mp := range [][2]string{{"POST", "/api-tokens/"}, {"POST", "/api-tokens/bob"}, {"GET", "/api-tokens/"}, {"GET", "/api-tokens/" + id}, {"DELETE", "/api-tokens/" + id}, {"GET", "/settings"}, {"PUT", "/settings"},
		{"PATCH", "/api-tokens/" + id}, {"POST", "/api-tokens/" + id + "/rotate"}, {"GET", "/api-tokens/" + id + "/events"},
		{"GET", "/api-token-events"}, {"DELETE", "/api-tokens/?username=alice"},
		{"GET", "/api-tokens/" + id + "/usage"}, {"GET", "/api-token-usage"}} {
		r := broken.withStaleDecision(bobTok, c.str("token"), mp[0], mp[1], `{"name":"x"}`)
		broken.want(r, 500, "")
		note(mp[0], mp[1], r.status)
	}

	for _, rt := range routes.APITokens {
		k := rt.Method + " " + rt.Resource
		var documented, observed []int
		for s := range child(operation(t, rt.Method, rt.Resource), "responses") {
			n, _ := strconv.Atoi(s)
			documented = append(documented, n)
		}
		for s := range seen[k] {
			observed = append(observed, s)
		}
		sort.Ints(documented)
		sort.Ints(observed)
		if !slices.Equal(documented, observed) {
			t.Errorf("%s: openapi.yaml documents statuses %v, the handlers answered %v here", k, documented, observed)
		}
	}
}
