"""The one refusal the link core raises: which field, and why, in a sentence."""


class LinkRefused(Exception):
    """A link rule says no. `errors` maps each refused field to its sentence; `field`
    and `reason` are the first of them. Field `__all__` is about the link as a whole."""

    def __init__(self, field: str, reason: str, *, errors: dict[str, str] | None = None):
        self.errors = errors or {field: reason}
        self.field, self.reason = next(iter(self.errors.items()))
        super().__init__(f"{self.field}: {self.reason}")

    @classmethod
    def of(cls, errors: dict[str, str]) -> "LinkRefused":
        field, reason = next(iter(errors.items()))
        return cls(field, reason, errors=errors)
