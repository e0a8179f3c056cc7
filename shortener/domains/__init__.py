"""Short domains: the Domain and BlockedDomain models, and the domains this process serves
(the request's domain, DomainMiddleware)."""
