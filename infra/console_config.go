package main

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Console is the console section of config-custom.yaml: the web console
// (build/web) served from a private S3 bucket through CloudFront.
type Console struct {
	// Enabled defaults to true; false creates nothing of the console and
	// adds no CORS to the token API.
	Enabled *bool `yaml:"enabled"`
	// DomainName and CertificateARN (ACM, us-east-1) serve the console
	// from a host of its own instead of <id>.cloudfront.net.
	DomainName     string `yaml:"domainName"`
	CertificateARN string `yaml:"certificateArn"`
	// PriceClass is CloudFront's: PriceClass_100, PriceClass_200 or
	// PriceClass_All (CloudFront's default).
	PriceClass string `yaml:"priceClass"`
	// ServeURL is the /v2/serve base URL the console shows to users, for a
	// host name on the ALB's certificate; the default is built from the
	// ALB's DNS name.
	ServeURL string `yaml:"serveUrl"`
	// IdentityProviderOrigins are further origins of the identity
	// provider that the console must reach, when its endpoints are not on
	// the issuer's origin (Cognito's token endpoint is on the user pool
	// domain, https://<prefix>.auth.<region>.amazoncognito.com).
	IdentityProviderOrigins []string `yaml:"identityProviderOrigins"`
}

// CloudFront price classes accepted in console.priceClass.
var consolePriceClasses = []string{"PriceClass_100", "PriceClass_200", "PriceClass_All"}

var (
	// A DNS name of two or more labels, lower case, no trailing dot.
	hostNameRE = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)
	acmARNRE   = regexp.MustCompile(`^arn:aws[a-z-]*:acm:([a-z0-9-]+):\d{12}:certificate/[A-Za-z0-9-]+$`)
)

// cloudFrontCertificateRegion is the only region CloudFront takes ACM
// certificates from.
const cloudFrontCertificateRegion = "us-east-1"

// On reports whether the console is deployed.
func (c *Console) On() bool { return c.Enabled == nil || *c.Enabled }

func (c *Console) applyDefaults() {
	if c.Enabled == nil {
		c.Enabled = ptr(true)
	}
}

// validate checks the console section; its keys are checked even when the
// console is disabled, so turning it on later does not reveal old typos.
func (c *Console) validate() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("console.%s %s", key, fmt.Sprintf(format, args...)))
	}
	if d := c.DomainName; d != "" && !hostNameRE.MatchString(d) {
		bad("domainName", "%q must be a lower-case host name such as console.example.com (no scheme, no path)", d)
	}
	switch arn := c.CertificateARN; {
	case arn == "" && c.DomainName != "":
		bad("certificateArn", "is required with console.domainName: an ACM certificate in %s covering %s", cloudFrontCertificateRegion, c.DomainName)
	case arn != "" && c.DomainName == "":
		bad("domainName", "is required with console.certificateArn (the host name the certificate covers)")
	case arn != "":
		if m := acmARNRE.FindStringSubmatch(arn); m == nil {
			bad("certificateArn", "%q must be an ACM certificate ARN (arn:aws:acm:%s:<account>:certificate/<id>)", arn, cloudFrontCertificateRegion)
		} else if m[1] != cloudFrontCertificateRegion {
			bad("certificateArn", "%q is in %s; CloudFront only uses ACM certificates from %s: request or import it there", arn, m[1], cloudFrontCertificateRegion)
		}
	}
	if p := c.PriceClass; p != "" && !slices.Contains(consolePriceClasses, p) {
		bad("priceClass", "%q must be one of %s", p, strings.Join(consolePriceClasses, ", "))
	}
	if u := c.ServeURL; u != "" {
		if pu, err := url.Parse(u); err != nil || pu.Scheme != "https" || pu.Host == "" || pu.RawQuery != "" || pu.Fragment != "" {
			bad("serveUrl", "%q must be an https URL such as https://llm.example.com/v2/serve", u)
		}
	}
	for i, o := range c.IdentityProviderOrigins {
		if _, err := httpsOrigin(o); err != nil || strings.TrimSuffix(o, "/") != mustOrigin(o) {
			bad(fmt.Sprintf("identityProviderOrigins[%d]", i), "%q must be an https origin (scheme and host only), such as https://example.auth.us-east-1.amazoncognito.com", o)
		}
	}
	return errs
}

// httpsOrigin is the origin (scheme://host[:port]) of an https URL.
func httpsOrigin(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Scheme != "https" || u.Host == "" || u.User != nil {
		return "", fmt.Errorf("%q is not an https URL", raw)
	}
	return "https://" + strings.ToLower(u.Host), nil
}

func mustOrigin(raw string) string {
	o, _ := httpsOrigin(raw)
	return o
}
