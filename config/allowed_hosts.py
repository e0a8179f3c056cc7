"""One ALLOWED_HOSTS entry that stands for every active short domain.

Django validates the Host header against ALLOWED_HOSTS with `pattern == "*"` and
`is_same_domain(host, pattern)`, which lower-cases the pattern and compares it with the
host. This entry answers those comparisons from the Domain table through the
per-process cache in `shortener.domains`, so adding a domain in admin needs no restart
and no new setting. It is a `str`, so copies of the list (the test runner's, ours)
carry it along, and printing the setting shows what it is.
"""


class ActiveDomains(str):
    def __new__(cls):
        return super().__new__(cls, "<active short domains>")

    def lower(self) -> "ActiveDomains":
        return self

    def __eq__(self, other) -> bool:
        if other is self:
            return True
        if not isinstance(other, str) or isinstance(other, ActiveDomains) or other == "*":
            return False
        from shortener.domains import served  # settings load before the apps

        return served.is_active_host(other)

    def __ne__(self, other) -> bool:
        return not self.__eq__(other)

    __hash__ = str.__hash__


ACTIVE_DOMAINS = ActiveDomains()
