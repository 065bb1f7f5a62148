"""Typed dependencies: what a route needs from the app, declared in its signature.

`create_app` (app.py) keeps one engine, database, settings, rate limiter and key cache per app
on `app.state`; this is the one module that reads them back for routes (`engine: EngineDep`),
so no route or page reaches into `request.app.state`. `auth.identify` still reads the key
cache, limiter and database from `app.state` itself: it is a function the auth dependencies
and the sign-in page call, not a route.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from contentguard.server.auth import KeyCache, RateLimiter
from contentguard.service.engine import Engine
from contentguard.settings import Settings
from contentguard.store.db import Database

__all__ = ["DbDep", "EngineDep", "KeyCacheDep", "LimiterDep", "SettingsDep"]


# async, so FastAPI calls them on the event loop rather than sending each to a thread
async def get_engine(request: Request) -> Engine:
    return request.app.state.engine


async def get_db(request: Request) -> Database:
    return request.app.state.db


async def get_settings(request: Request) -> Settings:
    """The app's settings (the ones `create_app` was given, not a fresh read of the env)."""
    return request.app.state.settings


async def get_limiter(request: Request) -> RateLimiter:
    return request.app.state.limiter


async def get_key_cache(request: Request) -> KeyCache:
    return request.app.state.key_cache


EngineDep = Annotated[Engine, Depends(get_engine)]
DbDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
LimiterDep = Annotated[RateLimiter, Depends(get_limiter)]
KeyCacheDep = Annotated[KeyCache, Depends(get_key_cache)]
