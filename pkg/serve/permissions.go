package serve

import (
	"fmt"
	"slices"
	"strings"

	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/config"
)

// permissions answers "may this principal use this model?".
//
// Model ids are compared after trimming spaces and folding case, so that a
// restricted model cannot be reached by spelling it differently for an
// upstream that is lenient about it. Aliases the upstream resolves (Ollama
// serves "llama3" as "llama3:latest") are different ids here: list each
// alias of a restricted model, or configure the upstream not to alias.
type permissions struct {
	models map[string][]string // normalized model id -> groups
	admin  string
}

func normalizeModel(id string) string { return strings.ToLower(strings.TrimSpace(id)) }

func newPermissions(models map[string][]string, groups auth.Groups) (permissions, error) {
	p := permissions{models: make(map[string][]string, len(models)), admin: groups.Admin}
	for id, gs := range models {
		n := normalizeModel(id)
		if _, dup := p.models[n]; dup {
			return permissions{}, fmt.Errorf("serve: %s lists %q more than once (model ids are compared ignoring case and surrounding spaces)", config.EnvModelPermissions, n)
		}
		p.models[n] = slices.Clone(gs)
	}
	return p, nil
}

// allows reports whether pr may use model: admins may use every model; a
// model not listed is open to every authenticated principal; a listed one
// to members of its groups.
func (p permissions) allows(pr auth.Principal, model string) bool {
	if pr.IsAdmin || (p.admin != "" && slices.Contains(pr.Groups, p.admin)) {
		return true
	}
	groups, listed := p.models[normalizeModel(model)]
	if !listed {
		return true
	}
	for _, g := range groups {
		if slices.Contains(pr.Groups, g) {
			return true
		}
	}
	return false
}
