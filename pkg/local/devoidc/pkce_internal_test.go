package devoidc

import "testing"

// The example of RFC 7636, Appendix B.
func TestPKCES256(t *testing.T) {
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	if !validVerifier(verifier) || !validChallenge(challenge) {
		t.Fatal("the RFC's verifier or challenge is not accepted as well-formed")
	}
	if !pkceMatches(verifier, challenge) {
		t.Error("the RFC's verifier does not match its challenge")
	}
	if pkceMatches(verifier[:len(verifier)-1]+"l", challenge) {
		t.Error("a different verifier matches")
	}
	if pkceMatches(challenge, challenge) {
		t.Error("the challenge itself (as with the plain method) matches")
	}
	for _, v := range []string{"short", verifier + "+", verifier[:42], string(make([]byte, 129))} {
		if validVerifier(v) {
			t.Errorf("validVerifier(%q) = true", v)
		}
	}
	for _, c := range []string{"", challenge + "=", challenge[:42], verifier + "A"} {
		if validChallenge(c) {
			t.Errorf("validChallenge(%q) = true", c)
		}
	}
}

func TestAllowedRedirect(t *testing.T) {
	origins, err := normalizeOrigins([]string{"http://127.0.0.1:8080", "HTTPS://Console.Example/"})
	if err != nil {
		t.Fatal(err)
	}
	i := &Issuer{redirectOrigins: origins}
	for raw, want := range map[string]bool{
		"http://127.0.0.1:8080/callback":         true,
		"http://127.0.0.1:8080":                  true,
		"http://127.0.0.1:8080?x=1":              true,
		"https://console.example/cb":             true,
		"https://CONSOLE.example/cb":             true,
		"http://127.0.0.1:8080.evil.example/":    false,
		"http://127.0.0.1:8080@evil.example/":    false,
		"http://evil.example@127.0.0.1:8080/":    false,
		"http://127.0.0.1:9999/cb":               false,
		"http://127.0.0.1/cb":                    false,
		"https://127.0.0.1:8080/cb":              false,
		"http://evil.example/cb":                 false,
		"http://127.0.0.1:8080\\@evil.example/":  false,
		"http://127.0.0.1:8080/cb#frag":          false,
		"/callback":                              false,
		"//127.0.0.1:8080/cb":                    false,
		"javascript://127.0.0.1:8080/%0aalert()": false,
		"http://console.example/cb":              false,
		"":                                       false,
	} {
		if got := i.allowedRedirect(raw); got != want {
			t.Errorf("allowedRedirect(%q) = %v, want %v", raw, got, want)
		}
	}
}
