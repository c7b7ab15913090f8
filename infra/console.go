package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfrontorigins"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3deployment"
	"github.com/aws/jsii-runtime-go"

	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/routes"
)

// EnvWebPlaceholder=1 lets synth go ahead without a console build, with a
// placeholder page instead (make test-infra: CI lints the template and has
// no web build). It is never written into the build directory, so a later
// `make deploy` cannot ship it by accident.
const EnvWebPlaceholder = "APITOKENS_WEB_PLACEHOLDER"

// consoleConfigKey is the object the console reads at start-up.
const consoleConfigKey = "config.json"

// consoleWebDirName is the console build below the build directory.
const consoleWebDirName = "web"

// ConsoleWebDir is the directory of the console build to deploy:
// <buildDir>/web, which must hold index.html. With APITOKENS_WEB_PLACEHOLDER=1
// and no build, a placeholder page in a temporary directory stands in.
func ConsoleWebDir(buildDir string) (dir string, placeholder bool, err error) {
	dir = filepath.Join(buildDir, consoleWebDirName)
	index := filepath.Join(dir, "index.html")
	if _, err := os.Stat(index); err == nil {
		return dir, false, nil
	}
	if os.Getenv(EnvWebPlaceholder) != "1" {
		return "", false, fmt.Errorf("%s is missing: run `make web` first to build the console (or set console.enabled: false to deploy without it)", index)
	}
	dir = filepath.Join(os.TempDir(), "apitokens-web-placeholder")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false, err
	}
	page := "<!doctype html><title>API token console</title><p>Placeholder: this stack was synthesized with " +
		EnvWebPlaceholder + "=1 and without a console build. Run <code>make web</code> and deploy again.</p>\n"
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(page), 0o644); err != nil {
		return "", false, err
	}
	return dir, true, nil
}

// consoleRouterCode serves the single-page app's routes: a path whose last
// segment has no extension (/, /callback, /tokens/abc) is an app route and
// gets index.html; anything with an extension (/config.json, /assets/x.js)
// is a file and keeps its own answer, 404 when it does not exist.
const consoleRouterCode = `function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri.lastIndexOf('.') <= uri.lastIndexOf('/')) {
    request.uri = '/index.html';
  }
  return request;
}
`

// hstsMaxAgeDays is the Strict-Transport-Security max-age.
const hstsMaxAgeDays = 365

// console is the web console: a private bucket, the CloudFront
// distribution in front of it, the deployment of build/web and config.json,
// and the CORS that lets it call the token API.
type console struct {
	Bucket, LogsBucket awss3.Bucket
	Distribution       awscloudfront.Distribution
	HeadersPolicy      awscloudfront.ResponseHeadersPolicy
	Router             awscloudfront.Function
	Deployment         awss3deployment.BucketDeployment
	DeploymentRole     awsiam.Role
	// Origin is https://<host>: the custom domain, or the distribution's
	// domain (a token).
	Origin string
	// CSP is the Content-Security-Policy (with tokens for the API's id).
	CSP string
	// Placeholder is true when a placeholder page stands in for build/web.
	Placeholder bool
}

// newConsole adds the console to the stack s. It comes last: the CORS it
// adds covers every method the REST API has by then.
func newConsole(cfg *Config, s *Stack, buildDir string) *console {
	stack := s.Stack
	webDir, placeholder, err := ConsoleWebDir(buildDir)
	if err != nil {
		// main checks first and reports this as an error.
		panic(err)
	}
	cc := cfg.Console
	c := &console{Placeholder: placeholder}
	removal := awscdk.RemovalPolicy_RETAIN
	if cfg.RemovalPolicy == "destroy" {
		removal = awscdk.RemovalPolicy_DESTROY
	}

	// CloudFront's standard logs are delivered through the bucket's ACL,
	// so this bucket keeps ACLs enabled (the bucket owner still owns every
	// log object). Retained and emptied by its lifecycle rule, like the
	// ALB's log bucket.
	c.LogsBucket = awss3.NewBucket(stack, jsii.String("ConsoleLogsBucket"), &awss3.BucketProps{
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_PREFERRED,
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:         jsii.String("expire-logs"),
			Expiration: awscdk.Duration_Days(jsii.Number(float64(cfg.LogRetentionDays))),
		}},
	})
	// The console's files: private, reached only by CloudFront through
	// origin access control, so CloudFront's logs record every read.
	// Versioned, so a bad deployment can be rolled back by hand; old
	// versions expire.
	c.Bucket = awss3.NewBucket(stack, jsii.String("ConsoleBucket"), &awss3.BucketProps{
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		MinimumTLSVersion: jsii.Number(1.2),
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		Versioned:         jsii.Bool(true),
		RemovalPolicy:     removal,
		// CloudFormation cannot delete a bucket that holds objects.
		AutoDeleteObjects: jsii.Bool(removal == awscdk.RemovalPolicy_DESTROY),
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("expire-old-versions"),
			NoncurrentVersionExpiration:         awscdk.Duration_Days(jsii.Number(30)),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(7)),
		}},
	})

	apiOrigin := restAPIOrigin(s)
	issuerOrigin := mustOrigin(cfg.AuthConfig.Authority) // validated: an https URL
	c.CSP = consoleCSP(apiOrigin, issuerOrigin, cc.IdentityProviderOrigins)
	c.HeadersPolicy = awscloudfront.NewResponseHeadersPolicy(stack, jsii.String("ConsoleHeaders"), &awscloudfront.ResponseHeadersPolicyProps{
		Comment: jsii.String("API token console: CSP, HSTS, no framing"),
		SecurityHeadersBehavior: &awscloudfront.ResponseSecurityHeadersBehavior{
			ContentSecurityPolicy: &awscloudfront.ResponseHeadersContentSecurityPolicy{
				ContentSecurityPolicy: jsii.String(c.CSP), Override: jsii.Bool(true),
			},
			StrictTransportSecurity: &awscloudfront.ResponseHeadersStrictTransportSecurity{
				AccessControlMaxAge: awscdk.Duration_Days(jsii.Number(hstsMaxAgeDays)),
				IncludeSubdomains:   jsii.Bool(true),
				Override:            jsii.Bool(true),
			},
			FrameOptions: &awscloudfront.ResponseHeadersFrameOptions{
				FrameOption: awscloudfront.HeadersFrameOption_DENY, Override: jsii.Bool(true),
			},
			ContentTypeOptions: &awscloudfront.ResponseHeadersContentTypeOptions{Override: jsii.Bool(true)},
			ReferrerPolicy: &awscloudfront.ResponseHeadersReferrerPolicy{
				ReferrerPolicy: awscloudfront.HeadersReferrerPolicy_STRICT_ORIGIN_WHEN_CROSS_ORIGIN, Override: jsii.Bool(true),
			},
		},
	})
	c.Router = awscloudfront.NewFunction(stack, jsii.String("ConsoleRouter"), &awscloudfront.FunctionProps{
		Comment: jsii.String("API token console: app routes get index.html"),
		Runtime: awscloudfront.FunctionRuntime_JS_2_0(),
		Code:    awscloudfront.FunctionCode_FromInline(jsii.String(consoleRouterCode)),
	})

	props := &awscloudfront.DistributionProps{
		Comment:           jsii.String(fmt.Sprintf("%s API token console (%s)", cfg.DeploymentName, cfg.DeploymentStage)),
		DefaultRootObject: jsii.String("index.html"),
		DefaultBehavior: &awscloudfront.BehaviorOptions{
			// LIST lets S3 answer 404 rather than 403 for a file that does
			// not exist; listing itself never reaches S3, since the router
			// turns "/" into /index.html and no query string is forwarded.
			Origin: awscloudfrontorigins.S3BucketOrigin_WithOriginAccessControl(c.Bucket, &awscloudfrontorigins.S3BucketOriginWithOACProps{
				OriginAccessLevels: &[]awscloudfront.AccessLevel{awscloudfront.AccessLevel_READ, awscloudfront.AccessLevel_LIST},
			}),
			ViewerProtocolPolicy:  awscloudfront.ViewerProtocolPolicy_REDIRECT_TO_HTTPS,
			AllowedMethods:        awscloudfront.AllowedMethods_ALLOW_GET_HEAD(),
			CachePolicy:           awscloudfront.CachePolicy_CACHING_OPTIMIZED(),
			Compress:              jsii.Bool(true),
			ResponseHeadersPolicy: c.HeadersPolicy,
			FunctionAssociations: &[]*awscloudfront.FunctionAssociation{{
				Function: c.Router, EventType: awscloudfront.FunctionEventType_VIEWER_REQUEST,
			}},
		},
		HttpVersion:   awscloudfront.HttpVersion_HTTP2_AND_3,
		EnableLogging: jsii.Bool(true),
		LogBucket:     c.LogsBucket,
		LogFilePrefix: jsii.String("cloudfront/"),
	}
	if p, ok := priceClasses[cc.PriceClass]; ok {
		props.PriceClass = p
	}
	if cc.DomainName != "" {
		props.DomainNames = jsii.Strings(cc.DomainName)
		props.Certificate = awscertificatemanager.Certificate_FromCertificateArn(stack, jsii.String("ConsoleCertificate"), jsii.String(cc.CertificateARN))
		props.MinimumProtocolVersion = awscloudfront.SecurityPolicyProtocol_TLS_V1_2_2021
		c.Origin = "https://" + cc.DomainName
	}
	c.Distribution = awscloudfront.NewDistribution(stack, jsii.String("ConsoleDistribution"), props)
	// CDK's warning about LIST is that a request for "/" could list the
	// bucket without a default root object; there is one, and the router
	// rewrites "/" as well.
	awscdk.Annotations_Of(c.Distribution).AcknowledgeWarning(jsii.String("@aws-cdk/aws-cloudfront-origins:listBucketSecurityRisk"),
		jsii.String("defaultRootObject is index.html and the router rewrites every extension-less path, / included"))
	if c.Origin == "" {
		c.Origin = "https://" + *c.Distribution.DistributionDomainName()
	}

	// The deployment's function gets a role of its own: without one, CDK
	// attaches AWSLambdaBasicExecutionRole (logs on every group).
	c.DeploymentRole = newLambdaRole(stack, "ConsoleDeploymentRole", "deploys the console's files to the console bucket")
	deployLogs := awslogs.NewLogGroup(stack, jsii.String("ConsoleDeploymentLogs"), &awslogs.LogGroupProps{
		Retention:     retentionDays[cfg.LogRetentionDays],
		RemovalPolicy: removal,
	})
	deployLogs.GrantWrite(c.DeploymentRole)
	c.Deployment = awss3deployment.NewBucketDeployment(stack, jsii.String("ConsoleDeployment"), &awss3deployment.BucketDeploymentProps{
		DestinationBucket: c.Bucket,
		Sources: &[]awss3deployment.ISource{
			awss3deployment.Source_Asset(jsii.String(webDir), nil),
			awss3deployment.Source_JsonData(jsii.String(consoleConfigKey), consoleConfig(cfg, s), nil),
		},
		// Every file is revalidated: index.html and config.json must never
		// be stale after a deployment, and revalidating the hashed assets
		// costs a 304.
		CacheControl: &[]awss3deployment.CacheControl{awss3deployment.CacheControl_NoCache()},
		Role:         c.DeploymentRole,
		LogGroup:     deployLogs,
		MemoryLimit:  jsii.Number(256),
	})
	if placeholder {
		awscdk.Annotations_Of(c.Deployment).AddWarningV2(jsii.String("apitokens:console-placeholder"),
			jsii.String(EnvWebPlaceholder+"=1 and no console build: a placeholder page is deployed instead of the console; run `make web` before deploying"))
	}

	addConsoleCORS(s, c.Origin)

	awscdk.NewCfnOutput(stack, jsii.String("ConsoleUrl"), &awscdk.CfnOutputProps{
		Description: jsii.String("URL of the web console; register <ConsoleUrl>/callback as a redirect URI with the identity provider"),
		Value:       jsii.String(c.Origin),
	})
	suppressConsole(s, cfg, c)
	return c
}

var priceClasses = map[string]awscloudfront.PriceClass{
	"PriceClass_100": awscloudfront.PriceClass_PRICE_CLASS_100,
	"PriceClass_200": awscloudfront.PriceClass_PRICE_CLASS_200,
	"PriceClass_All": awscloudfront.PriceClass_PRICE_CLASS_ALL,
}

// restAPIOrigin is https://<api id>.execute-api.<region>.<suffix>. It names
// the REST API, not its stage, so the distribution does not depend on the
// stage (whose deployment depends on the functions, which get the
// distribution's domain as CONSOLE_ORIGIN).
func restAPIOrigin(s *Stack) string {
	return "https://" + *s.API.API.RestApiId() + ".execute-api." + *s.Stack.Region() + "." + *s.Stack.UrlSuffix()
}

// consoleCSP allows the console's own files and, to connect to, the token
// API and the identity provider, nothing else. Cloudscape runs with
// style-src 'self' and needs data: fonts and blob: images; no inline
// scripts or styles are allowed.
func consoleCSP(apiOrigin, issuerOrigin string, idpOrigins []string) string {
	idp := []string{issuerOrigin}
	for _, o := range idpOrigins {
		if o = mustOrigin(o); o != issuerOrigin {
			idp = append(idp, o)
		}
	}
	connect := append([]string{"'self'", apiOrigin}, idp...)
	form := append([]string{"'self'"}, idp...)
	return strings.Join([]string{
		"default-src 'self'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self' data: blob:",
		"font-src 'self' data:",
		"connect-src " + strings.Join(connect, " "),
		"form-action " + strings.Join(form, " "),
		"frame-ancestors 'none'",
		"base-uri 'self'",
		"object-src 'none'",
	}, "; ")
}

// consoleConfig is config.json: what the console needs to sign in and to
// call the API, resolved at deployment time.
func consoleConfig(cfg *Config, s *Stack) map[string]any {
	a := cfg.AuthConfig
	groupsClaim := a.JWTGroupsProperty
	if groupsClaim == "" {
		groupsClaim = config.DefaultJWTGroupsProperty
	}
	out := map[string]any{
		"authority":   a.Authority,
		"clientId":    a.ClientID,
		"apiUrl":      restAPIOrigin(s) + "/" + *s.API.API.DeploymentStage().StageName(),
		"serveUrl":    consoleServeURL(cfg, s),
		"adminGroup":  a.AdminGroup,
		"apiGroup":    a.APIGroup,
		"groupsClaim": groupsClaim,
		// How long a deleted token can still call models
		// (TOKEN_CACHE_SECONDS), which the console tells whoever deletes one.
		"revocationSeconds": *cfg.APITokens.TokenCacheSeconds,
	}
	if a.JWTUsernameProperty != "" {
		out["usernameClaim"] = a.JWTUsernameProperty
	}
	return out
}

// consoleServeURL is console.serveUrl, or the ALB's /v2/serve URL (https
// when it has a certificate or is an existing HTTPS listener), or "" when
// the host is unknown (an existing listener without network.existingListener.dnsName).
func consoleServeURL(cfg *Config, s *Stack) string {
	if u := cfg.Console.ServeURL; u != "" {
		return strings.TrimRight(u, "/")
	}
	if s.Serve.DNSName == nil {
		return ""
	}
	scheme := "http"
	if cfg.Network.CertificateARN != "" || cfg.Network.ExistingListener.ARN != "" {
		scheme = "https"
	}
	return scheme + "://" + *s.Serve.DNSName + strings.TrimSuffix(routes.ServePathPrefix, "/")
}
