package devoidc

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"strings"
)

// The sign-in page is plain HTML rendered here: no script, no external
// resource, one stylesheet allowed by its hash. html/template escapes every
// value (a username, a login_hint, an error message) for its context.

const pageCSS = `body{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;line-height:1.4}
.warn{background:#fff4ce;border:1px solid #c9a400;padding:.5rem .75rem}
.error{background:#fde7e9;border:1px solid #c50f1f;padding:.5rem .75rem}
label{display:block;font-weight:600;margin-top:1rem}
input{width:100%;box-sizing:border-box;padding:.4rem;font:inherit}
.help{color:#555;font-size:.9em;margin:.25rem 0 0}
button{font:inherit;padding:.4rem 1rem;margin-top:1rem;cursor:pointer}
fieldset{margin-top:1.5rem}
.preset{display:flex;gap:.75rem;align-items:baseline}
.preset button{min-width:14rem}
code{word-break:break-all}`

var pageCSSHash = func() string {
	sum := sha256.Sum256([]byte(pageCSS))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"join": func(g []string) string { return strings.Join(g, ", ") },
}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.Title}} - development issuer</title>
<style>{{.CSS}}</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
<p class="warn">Development issuer for local use only: there are no passwords, and anyone who can reach it can sign in as anyone, with any groups.</p>
{{- if .Message}}
<p>{{.Message}}</p>
{{- end}}
{{- if .Note}}
<p>{{.Note}}</p>
{{- end}}
{{- if .Error}}
<p class="error" role="alert">{{.Error}}</p>
{{- end}}
{{- if .Form}}
<p>Signing in to <code>{{.Form.ClientID}}</code>, then back to <code>{{.Form.ReturnTo}}</code>.</p>
<form method="post" action="{{.Form.Action}}">
<input type="hidden" name="request" value="{{.Form.RequestID}}">
<label for="username">Username</label>
<input id="username" name="username" type="text" value="{{.Form.Username}}" required maxlength="128" autocomplete="username" autocapitalize="none" spellcheck="false" autofocus>
<label for="groups">Groups</label>
<input id="groups" name="groups" type="text" value="{{.Form.Groups}}" autocomplete="off" autocapitalize="none" spellcheck="false" aria-describedby="groups-help">
<p class="help" id="groups-help">Comma-separated, for example <code>{{.Form.GroupsExample}}</code>.</p>
<button type="submit">Sign in</button>
<fieldset>
<legend>Or sign in at once as</legend>
{{- range .Form.Presets}}
<div class="preset"><button type="submit" name="preset" value="{{.ID}}" formnovalidate aria-describedby="preset-{{.ID}}">{{.Label}}</button> <span id="preset-{{.ID}}"><code>{{.Username}}</code>{{if .Groups}} in <code>{{join .Groups}}</code>{{else}}, in no group{{end}}</span></div>
{{- end}}
</fieldset>
</form>
{{- end}}
</main>
</body>
</html>
`))

type pageData struct {
	Title, Message, Note, Error string
	CSS                         template.CSS
	Form                        *formData
}

type formData struct {
	Action, RequestID, ClientID, ReturnTo string
	Username, Groups, GroupsExample       string
	Presets                               []preset
}

// renderSignIn shows the sign-in form for the pending request id.
func (i *Issuer) renderSignIn(w http.ResponseWriter, status int, id string, ar *authRequest, username, groups, errMsg string) {
	returnTo := ar.redirectURI
	if n := strings.IndexByte(returnTo, '?'); n >= 0 {
		returnTo = returnTo[:n]
	}
	example := "lisa-users,lisa-api-users"
	for _, p := range i.presets {
		if p.ID == PresetAPIUser && len(p.Groups) > 0 {
			example = strings.Join(p.Groups, ",")
		}
	}
	i.renderPage(w, status, pageData{
		Title: "Sign in",
		Error: errMsg,
		Form: &formData{
			Action: i.issuer + PathAuthorize, RequestID: id, ClientID: i.audience, ReturnTo: returnTo,
			Username: username, Groups: groups, GroupsExample: example, Presets: i.presets,
		},
	})
}

// refusePage answers 400 with a page saying why the request was refused;
// nothing is sent to the application.
func (i *Issuer) refusePage(w http.ResponseWriter, msg string) {
	i.renderPage(w, http.StatusBadRequest, pageData{Title: "Sign-in refused", Error: msg})
}

func (i *Issuer) renderPage(w http.ResponseWriter, status int, d pageData) {
	d.CSS = template.CSS(pageCSS)
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, d); err != nil {
		writeError(w, http.StatusInternalServerError, "cannot render page")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", i.pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// contentSecurityPolicy allows the page's own stylesheet and form and
// nothing else. form-action names the redirect origins too: browsers
// apply it to the redirect that follows the form.
func contentSecurityPolicy(origins []string) string {
	fa := "'self'"
	for _, o := range origins {
		fa += " " + o
	}
	return "default-src 'none'; style-src " + pageCSSHash + "; form-action " + fa + "; frame-ancestors 'none'; base-uri 'none'"
}
