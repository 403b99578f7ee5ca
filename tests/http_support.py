"""What the in-process HTTP API tests share: tokens of the district and of two stations'
workers, and the Authorization header that carries one."""

import pytest

from services.common import auth


@pytest.fixture
def tokens(settings):
    secret = settings.token_secret
    return {
        "admin": auth.issue_token(secret, "district-admin", "district_admin"),
        "daxing": auth.issue_token(secret, "dx-01", "worker", "daxing", "王晨光"),
        "daxing_other": auth.issue_token(secret, "dx-03", "worker", "daxing", "刘洋"),
        "xiaxiang": auth.issue_token(secret, "xx-02", "worker", "xiaxiang", "郑芳"),
    }


def bearer(token, **extra):
    return {"Authorization": f"Bearer {token}", **extra}
