package serve

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/config"
)

// maxModelIDBytes bounds a requested model id: every "/" adds a candidate
// to check, and no upstream's ids come near this.
const maxModelIDBytes = 512

// permissions answers "may this principal use this model?".
//
// Model ids are compared after trimming spaces and folding case (as
// foldKey), so that a restricted model cannot be reached by spelling it
// differently for an upstream that is lenient about it.
//
// Upstreams also accept a model under provider prefixes: LiteLLM serves
// "openai/x", "litellm_proxy/x" or "hosted_vllm/x", clients add their own,
// and ids such as "meta-llama/Llama-3-8B" contain a "/" themselves. So a
// requested id is checked as a whole and under every suffix that follows a
// "/" ("a/b/x" as "a/b/x", "b/x" and "x"), and it is allowed only if every
// one of those candidates that is listed allows it. A listed
// "meta-llama/Llama-3-8B" thus covers "openai/meta-llama/Llama-3-8B", and
// a listed "x" covers every prefixed form of x; a listed "openai/x" does
// not cover "x", which is another id. An id none of whose candidates is
// listed is unlisted: open to every authenticated principal, or to admins
// only under MODEL_PERMISSIONS_DEFAULT=deny.
//
// Aliases the upstream resolves otherwise (Ollama serves "llama3" as
// "llama3:latest") are different ids here: list each alias of a restricted
// model, or configure the upstream not to alias.
type permissions struct {
	models map[string][]string // normalized model id -> groups
	deny   bool                // unlisted models are for admins only
}

func normalizeModel(id string) string { return foldKey(strings.TrimSpace(id)) }

func newPermissions(models map[string][]string, unlisted string) (permissions, error) {
	p := permissions{models: make(map[string][]string, len(models)), deny: unlisted == config.ModelsDeny}
	for id, gs := range models {
		n := normalizeModel(id)
		if _, dup := p.models[n]; dup {
			return permissions{}, fmt.Errorf("serve: %s lists %q more than once (model ids are compared ignoring case and surrounding spaces)", config.EnvModelPermissions, strings.TrimSpace(id))
		}
		p.models[n] = slices.Clone(gs)
	}
	return p, nil
}

// isAdmin is the decision core's answer (auth.Groups.Roles, from
// ADMIN_GROUP), never a second reading of the groups here.
func (p permissions) isAdmin(pr auth.Principal) bool { return pr.IsAdmin }

// allows reports whether pr may use model: admins may use every model; a
// model is otherwise allowed if it is a valid id (checkModelID) and every
// listed candidate of it (see permissions) lists one of pr's groups, or,
// with no candidate listed, if unlisted models are open.
func (p permissions) allows(pr auth.Principal, model string) bool {
	if checkModelID(model) != nil {
		return false
	}
	if p.isAdmin(pr) {
		return true
	}
	id := normalizeModel(model)
	listed := false
	for cand := id; ; {
		if groups, ok := p.models[cand]; ok {
			listed = true
			if !slices.ContainsFunc(groups, func(g string) bool { return slices.Contains(pr.Groups, g) }) {
				return false
			}
		}
		_, rest, more := strings.Cut(cand, "/")
		if !more {
			break
		}
		cand = rest
	}
	return listed || !p.deny
}

// checkModelID refuses model ids that upstreams do not take as one model:
// LiteLLM races or batches the models of a comma list and expands
// wildcards; whitespace, control and invisible characters inside an id,
// and replacement characters (left where a decoder met invalid text), make
// ids that look alike differ, or differ between decoders; an empty "/"
// segment makes the prefix rule ambiguous.
func checkModelID(model string) error {
	id := strings.TrimSpace(model)
	invalid := func(why string) error {
		return apierr.New(apierr.Invalid, "the model id '%s' is not valid: %s", truncate(model, 200), why).WithCode("invalid_model")
	}
	if len(id) > maxModelIDBytes {
		return invalid(fmt.Sprintf("longer than %d bytes", maxModelIDBytes))
	}
	for _, r := range id {
		switch {
		case r == ',' || r == '*' || r == '?':
			return invalid("commas and wildcards (, * ?) select several models")
		case unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError:
			return invalid("it contains whitespace, control or invisible characters")
		}
	}
	if id == "" || slices.Contains(strings.Split(id, "/"), "") {
		return invalid("empty path segment")
	}
	return nil
}

// foldKey returns s under Unicode simple case folding, each rune replaced
// by the smallest rune of its folding orbit: foldKey(s) == foldKey(t)
// exactly when strings.EqualFold(s, t), which is how encoding/json matches
// object keys to struct fields ("MODEL", and "api_ba\u017fe" for api_base).
func foldKey(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b.WriteRune(m)
	}
	return b.String()
}
