"""The token signing keys (``SHEGONG_TOKEN_SECRETS``, ``SHEGONG_TOKEN_SECRET``) and their
rotation: the first key signs, every key listed is accepted (auth.py)."""


class Keyring:
    """The token signing keys: ``(kid, secret)`` pairs, the current (signing) one first."""

    def __init__(self, keys):
        self.keys = tuple((kid, secret) for kid, secret in keys if secret)

    @classmethod
    def parse(cls, secrets_text="", single_secret=""):
        """From ``SHEGONG_TOKEN_SECRETS`` ("kid:secret,..."), else the single secret."""
        keys = []
        for entry in (secrets_text or "").split(","):
            kid, sep, secret = entry.strip().partition(":")
            if entry.strip() and (not sep or not kid or not secret):
                raise ValueError("SHEGONG_TOKEN_SECRETS entries are kid:secret")
            if entry.strip():
                keys.append((kid, secret))
        if len({kid for kid, _ in keys}) != len(keys):
            raise ValueError("SHEGONG_TOKEN_SECRETS names a kid twice")
        return cls(keys or [(None, single_secret)])

    def __bool__(self):
        return bool(self.keys)

    @property
    def current(self):
        return self.keys[0] if self.keys else (None, "")

    def secret_for(self, kid):
        """The secret a token's ``kid`` names; a token naming none is the current key's."""
        if kid is None:
            return self.current[1]
        return next((secret for known, secret in self.keys if known == kid), None)


def keyring(settings):
    return Keyring.parse(settings.token_secrets, settings.token_secret)


def as_keyring(secret):
    return secret if isinstance(secret, Keyring) else Keyring([(None, secret)])
