"""Personal API tokens: issued on the tokens page, presented as bearer tokens to the API
and counted by the rate limiter."""
