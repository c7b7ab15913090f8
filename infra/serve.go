package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	elbv2 "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2targets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/llmgw/apitokens/pkg/routes"
)

// serveWiring is what the ALB part created; nil fields were not created.
type serveWiring struct {
	TargetGroup   elbv2.ApplicationTargetGroup
	Rule          elbv2.ApplicationListenerRule
	LoadBalancer  elbv2.ApplicationLoadBalancer // nil with an existing listener
	SecurityGroup awsec2.SecurityGroup          // nil with an existing listener
	LogsBucket    awss3.Bucket                  // nil with an existing listener
	Vpc           awsec2.IVpc                   // nil with an existing listener
	NewVpc        bool
	DNSName       *string // nil when unknown (existing listener without dnsName)
}

// lambdaTargetGroup is the ALB's target group for the serve function.
func lambdaTargetGroup(scope constructs.Construct, serve awslambda.IFunction) elbv2.ApplicationTargetGroup {
	// Multi-value headers: in single-value mode the ALB passes only the
	// last of repeated headers, so a request carrying two Authorization or
	// Api-Key values would reach the serve function looking like one, and
	// its decision core could not refuse it. pkg/albevent reads either mode
	// and answers in the mode the request came in.
	return elbv2.NewApplicationTargetGroup(scope, jsii.String(serveTargetsID), &elbv2.ApplicationTargetGroupProps{
		TargetType:               elbv2.TargetType_LAMBDA,
		MultiValueHeadersEnabled: jsii.Bool(true),
		Targets:                  &[]elbv2.IApplicationLoadBalancerTarget{awselasticloadbalancingv2targets.NewLambdaTarget(serve)},
	})
}

// serveTargetsID names the serve target group in either mode.
const serveTargetsID = "ServeTargets"

// newServeWiring forwards routes.ServePathPattern to tg (the serve function
// or the serve service), either on a new ALB or as a rule on an existing
// HTTPS listener. vpc is the ALB's VPC (nil with an existing listener);
// isNew says this stack created it.
func newServeWiring(scope constructs.Construct, cfg *Config, tg elbv2.ApplicationTargetGroup, vpc awsec2.IVpc, isNew bool) *serveWiring {
	n := cfg.Network
	w := &serveWiring{TargetGroup: tg}
	forward := &elbv2.ApplicationListenerRuleProps{
		Priority:   jsii.Number(float64(n.ListenerRulePriority)),
		Conditions: &[]elbv2.ListenerCondition{elbv2.ListenerCondition_PathPatterns(jsii.Strings(routes.ServePathPattern))},
		Action:     elbv2.ListenerAction_Forward(&[]elbv2.IApplicationTargetGroup{w.TargetGroup}, nil),
	}

	if el := n.ExistingListener; el.ARN != "" {
		// The listener's own security group and certificate stay as they
		// are; only a rule and a target group are added.
		sg := awsec2.SecurityGroup_FromSecurityGroupId(scope, jsii.String("ExistingAlbSecurityGroup"), jsii.String(el.SecurityGroupID),
			&awsec2.SecurityGroupImportOptions{Mutable: jsii.Bool(false)})
		forward.Listener = elbv2.ApplicationListener_FromApplicationListenerAttributes(scope, jsii.String("ExistingListener"),
			&elbv2.ApplicationListenerAttributes{ListenerArn: jsii.String(el.ARN), SecurityGroup: sg})
		w.Rule = elbv2.NewApplicationListenerRule(scope, jsii.String("ServeRule"), forward)
		if el.DNSName != "" {
			w.DNSName = jsii.String(el.DNSName)
		}
		return w
	}

	w.Vpc, w.NewVpc = vpc, isNew
	w.LogsBucket = newLogsBucket(scope, cfg)
	if isNew {
		vpc.AddFlowLog(jsii.String("FlowLogs"), &awsec2.FlowLogOptions{
			Destination: awsec2.FlowLogDestination_ToS3(w.LogsBucket, jsii.String("vpc-flow-logs/"), nil),
			TrafficType: awsec2.FlowLogTrafficType_ALL,
		})
	}

	w.SecurityGroup = awsec2.NewSecurityGroup(scope, jsii.String("AlbSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:         vpc,
		Description: jsii.String("ALB for " + routes.ServePathPattern),
		// Lambda targets are invoked through the Lambda service, not over
		// the VPC, so the ALB needs no outbound rule; with serve.mode:
		// container, CDK adds the one to the service's port when the
		// service joins the target group.
		AllowAllOutbound: jsii.Bool(false),
	})
	alb := elbv2.NewApplicationLoadBalancer(scope, jsii.String("Alb"), &elbv2.ApplicationLoadBalancerProps{
		Vpc:                     vpc,
		VpcSubnets:              albSubnets(scope, cfg),
		InternetFacing:          n.InternetFacing,
		SecurityGroup:           w.SecurityGroup,
		DropInvalidHeaderFields: jsii.Bool(true),
		// Non-streaming chat completions can take minutes.
		IdleTimeout:        awscdk.Duration_Seconds(jsii.Number(float64(n.IdleTimeoutSeconds))),
		DeletionProtection: n.LoadBalancerDeletionProtection,
	})
	alb.LogAccessLogs(w.LogsBucket, jsii.String("alb"))
	w.LoadBalancer = alb
	w.DNSName = alb.LoadBalancerDnsName()

	notFound := elbv2.ListenerAction_FixedResponse(jsii.Number(404), &elbv2.FixedResponseOptions{
		ContentType: jsii.String("application/json"),
		MessageBody: jsii.String(`{"message":"Not Found"}`),
	})
	ports := []float64{443, 80}
	if n.CertificateARN != "" {
		forward.Listener = alb.AddListener(jsii.String("Https"), &elbv2.BaseApplicationListenerProps{
			Port:          jsii.Number(443),
			Protocol:      elbv2.ApplicationProtocol_HTTPS,
			Certificates:  &[]elbv2.IListenerCertificate{elbv2.ListenerCertificate_FromArn(jsii.String(n.CertificateARN))},
			SslPolicy:     elbv2.SslPolicy_RECOMMENDED_TLS,
			DefaultAction: notFound,
			Open:          jsii.Bool(false), // ingress comes from network.allowedCidrs below
		})
		alb.AddRedirect(&elbv2.ApplicationLoadBalancerRedirectConfig{
			SourcePort: jsii.Number(80), SourceProtocol: elbv2.ApplicationProtocol_HTTP,
			TargetPort: jsii.Number(443), TargetProtocol: elbv2.ApplicationProtocol_HTTPS,
			Open: jsii.Bool(false),
		})
	} else {
		ports = []float64{80}
		l := alb.AddListener(jsii.String("Http"), &elbv2.BaseApplicationListenerProps{
			Port:          jsii.Number(80),
			Protocol:      elbv2.ApplicationProtocol_HTTP,
			DefaultAction: notFound,
			Open:          jsii.Bool(false),
		})
		forward.Listener = l
		awscdk.Annotations_Of(l).AddWarningV2(jsii.String("apitokens:plain-http"),
			jsii.String("network.certificateArn is not set: the ALB listens on plain HTTP and API tokens cross the network in clear text; set a certificate for anything but a test stage"))
	}
	for i, cidr := range n.AllowedCidrs {
		for _, p := range ports {
			w.SecurityGroup.AddIngressRule(awsec2.Peer_Ipv4(jsii.String(cidr)), awsec2.Port_Tcp(jsii.Number(p)),
				jsii.String(fmt.Sprintf("network.allowedCidrs[%d] port %d", i, int(p))), nil)
		}
	}
	w.Rule = elbv2.NewApplicationListenerRule(scope, jsii.String("ServeRule"), forward)
	return w
}

// vpcPlacement puts a function in a VPC.
type vpcPlacement struct {
	Vpc            awsec2.IVpc
	Subnets        *awsec2.SubnetSelection
	SecurityGroups []awsec2.ISecurityGroup
}

// servePlacement is where serve.vpc puts the serve function, or nil outside
// any VPC. In the stack's VPC (stackVpc) it gets the isolated subnets, a
// security group of its own and the endpoints it needs there; otherwise
// the configured subnets and security groups, imported unchanged.
func servePlacement(scope constructs.Construct, cfg *Config, stackVpc awsec2.IVpc) *vpcPlacement {
	sv := cfg.Serve.Vpc
	container := cfg.ServeContainer()
	if !sv.Enabled && !container {
		return nil
	}
	// A container always runs in a VPC: the one serve.vpc names, or else
	// this stack's (validation refuses container mode without either).
	if sv.Enabled && !cfg.ServeInStackVpc() {
		p := &vpcPlacement{Vpc: awsec2.Vpc_FromVpcAttributes(scope, jsii.String("ServeVpc"), &awsec2.VpcAttributes{
			VpcId: jsii.String(cfg.ServeVpcID()),
			// An imported VPC needs a zone list; the subnets are given
			// explicitly, so it is never read (and never a lookup).
			AvailabilityZones: &[]*string{awscdk.Fn_Select(jsii.Number(0), awscdk.Fn_GetAzs(nil))},
		})}
		subnets := make([]awsec2.ISubnet, len(sv.SubnetIDs))
		for i, id := range sv.SubnetIDs {
			subnets[i] = awsec2.Subnet_FromSubnetId(scope, jsii.String(fmt.Sprintf("ServeSubnet%d", i)), jsii.String(id))
		}
		p.Subnets = &awsec2.SubnetSelection{Subnets: &subnets}
		for i, id := range sv.SecurityGroupIDs {
			p.SecurityGroups = append(p.SecurityGroups, awsec2.SecurityGroup_FromSecurityGroupId(scope, jsii.String(fmt.Sprintf("ServeSecurityGroup%d", i)), jsii.String(id),
				&awsec2.SecurityGroupImportOptions{Mutable: jsii.Bool(false)}))
		}
		return p
	}

	isolated := &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED}
	what := "serve function"
	desc := "serve function: outbound to the model upstream, the OIDC issuer and AWS endpoints"
	if container {
		what = "serve service"
		// The ALB's ingress on the container port is added when the
		// service joins its target group.
		desc = "serve service: the ALB on the container port; outbound to the model upstream, the OIDC issuer and AWS endpoints"
	}
	sg := awsec2.NewSecurityGroup(scope, jsii.String("ServeSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:         stackVpc,
		Description: jsii.String(desc),
		// Lambda is invoked through its service, never over the VPC, so the
		// group admits nothing.
		AllowAllOutbound: jsii.Bool(true),
	})
	// The isolated subnets have no NAT gateway: DynamoDB (token lookups)
	// and, when the upstream key is a secret, Secrets Manager (read at
	// start-up) are reached through endpoints.
	stackVpc.AddGatewayEndpoint(jsii.String("DynamoDbEndpoint"), &awsec2.GatewayVpcEndpointOptions{
		Service: awsec2.GatewayVpcEndpointAwsService_DYNAMODB(),
		Subnets: &[]*awsec2.SubnetSelection{isolated},
	})
	reached := "DynamoDB through a gateway endpoint"
	if cfg.Serve.UpstreamAPIKeySecretARN != "" {
		ep := stackVpc.AddInterfaceEndpoint(jsii.String("SecretsManagerEndpoint"), &awsec2.InterfaceVpcEndpointOptions{
			Service:           awsec2.InterfaceVpcEndpointAwsService_SECRETS_MANAGER(),
			Subnets:           isolated,
			PrivateDnsEnabled: jsii.Bool(true),
			Open:              jsii.Bool(false), // only the serve function may connect
		})
		ep.Connections().AllowDefaultPortFrom(sg, jsii.String(what))
		reached += " and Secrets Manager through an interface endpoint"
	}
	if container {
		reached += containerEndpoints(stackVpc, isolated, sg)
	}
	lead := "serve.vpc.enabled: the serve function runs"
	if container {
		lead = "serve.mode: container: the serve service runs"
	}
	awscdk.Annotations_Of(sg).AddWarningV2(jsii.String("apitokens:serve-vpc"), jsii.String(
		lead+" in the isolated subnets of this stack's VPC, which have no NAT gateway and no route to the internet. "+
			"It reaches "+reached+". serve.upstreamUrl and, for callers that send JWTs, the OIDC issuer (authConfig.authority: discovery document and JWKS) "+
			"must be reachable from those subnets (VPC peering, a Transit Gateway, or a NAT gateway you add); calls with API tokens need neither."))
	return &vpcPlacement{Vpc: stackVpc, Subnets: isolated, SecurityGroups: []awsec2.ISecurityGroup{sg}}
}

// albVpc returns a new two-tier VPC (public subnets for an internet-facing
// ALB, isolated ones for an internal ALB and for serve.vpc; no NAT gateways)
// or the configured existing one.
func albVpc(scope constructs.Construct, cfg *Config) (awsec2.IVpc, bool) {
	n := cfg.Network
	switch {
	case n.VpcID != "" && len(n.SubnetIDs) > 0:
		return awsec2.Vpc_FromVpcAttributes(scope, jsii.String("Vpc"), &awsec2.VpcAttributes{
			VpcId:             jsii.String(n.VpcID),
			AvailabilityZones: jsii.Strings(n.AvailabilityZones...),
		}), false
	case n.VpcID != "":
		return awsec2.Vpc_FromLookup(scope, jsii.String("Vpc"), &awsec2.VpcLookupOptions{VpcId: jsii.String(n.VpcID)}), false
	}
	return awsec2.NewVpc(scope, jsii.String("Vpc"), &awsec2.VpcProps{
		MaxAzs:      jsii.Number(float64(n.MaxAzs)),
		NatGateways: jsii.Number(0),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			{Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24)},
			{Name: jsii.String("internal"), SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED, CidrMask: jsii.Number(24)},
		},
	}), true
}

// albSubnets places the ALB: the configured subnets of an existing VPC, or
// public (internet-facing) or isolated (internal) subnets of the VPC.
func albSubnets(scope constructs.Construct, cfg *Config) *awsec2.SubnetSelection {
	n := cfg.Network
	if len(n.SubnetIDs) > 0 {
		subnets := make([]awsec2.ISubnet, len(n.SubnetIDs))
		for i, id := range n.SubnetIDs {
			subnets[i] = awsec2.Subnet_FromSubnetAttributes(scope, jsii.String(fmt.Sprintf("AlbSubnet%d", i)), &awsec2.SubnetAttributes{
				SubnetId:         jsii.String(id),
				AvailabilityZone: jsii.String(n.AvailabilityZones[i]),
			})
		}
		return &awsec2.SubnetSelection{Subnets: &subnets}
	}
	if *n.InternetFacing {
		return &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC}
	}
	return &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED}
}

// newLogsBucket holds ALB access logs and VPC flow logs. It is always
// retained (a non-empty bucket cannot be deleted by CloudFormation) and
// empties itself through its lifecycle rule.
func newLogsBucket(scope constructs.Construct, cfg *Config) awss3.Bucket {
	return awss3.NewBucket(scope, jsii.String("LogsBucket"), &awss3.BucketProps{
		// ALB access logs support only SSE-S3.
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:         jsii.String("expire-logs"),
			Expiration: awscdk.Duration_Days(jsii.Number(float64(cfg.LogRetentionDays))),
		}},
	})
}
