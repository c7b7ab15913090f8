// Package albevent converts between net/http and the JSON events an
// Application Load Balancer exchanges with a Lambda target, in both
// directions:
//
//   - the function side: [ToHTTPRequest] and [Handler] let an ordinary
//     http.Handler serve ALB target events, as lambdaurl.Wrap does for
//     function URLs;
//   - the load balancer side: [FromHTTPRequest] and [WriteResponse] let the
//     local gateway do what the ALB does, so the handler runs on exactly the
//     events it will see in AWS.
//
// The ALB passes query strings and (we assume) paths as the client sent
// them, still URL-encoded; it lower-cases header names; and with multi-value
// headers enabled on the target group it sends multiValueHeaders and
// multiValueQueryStringParameters instead of headers and
// queryStringParameters, and expects multiValueHeaders in the answer.
// [Handler] answers in the mode the request arrived in.
//
// Both directions enforce the ALB's limits (1 MB request body, 1 MB of
// response JSON): AWS does not say whether "MB" means 10^6 or 2^20 bytes, so
// the smaller reading is used and a response that might not fit is refused
// with a 502 instead of being cut.
package albevent
