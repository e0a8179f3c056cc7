"""One refusal for every way a sign-in through the provider can fail: a status and a sentence."""


class SignInRefused(Exception):
    """400: the answer is not one this site asked for (no state, a replayed state, no code).
    403: the provider or the ID token's checks refuse the person. 502: the provider could
    not be asked, or answered something that is not OpenID Connect."""

    def __init__(self, status: int, sentence: str):
        super().__init__(sentence)
        self.status = status
        self.sentence = sentence
