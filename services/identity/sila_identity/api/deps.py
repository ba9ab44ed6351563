"""Typed dependencies of identity's routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sila_common.app import get_runtime
from sila_identity.auth.keys import KeyStore
from sila_identity.settings import IdentitySettings


def get_key_store(request: Request) -> KeyStore:
    keys = get_runtime(request).extras["keys"]
    assert isinstance(keys, KeyStore)
    return keys


def get_identity_settings(request: Request) -> IdentitySettings:
    settings = get_runtime(request).settings
    assert isinstance(settings, IdentitySettings)
    return settings


KeyStoreDep = Annotated[KeyStore, Depends(get_key_store)]
IdentitySettingsDep = Annotated[IdentitySettings, Depends(get_identity_settings)]
