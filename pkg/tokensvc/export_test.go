package tokensvc

// ParseExpiresIn exposes parseExpiresIn to the external tests.
var ParseExpiresIn = parseExpiresIn
