"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served with their assets from this server.

FastAPI's own pages load their JavaScript, CSS, favicon and fonts from CDNs, and are blank
without internet access. The assets here come from the pinned ``fastapi-offline`` package
(only its static files are used), so the pages work wherever the server runs.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from agentkeys.api.deps import JsonBodyRoute
from agentkeys.errors import NotFound

OPENAPI_URL = "/openapi.json"
ASSETS_URL = "/docs/assets"
TITLE = "agentkeys"
# Name -> media type: the only files served (no directory listing, no path from the client).
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
# The assets change only with the pinned package: a day in any cache is safe.
ASSET_CACHE = "public, max-age=86400"

router = APIRouter(tags=["documentation"], route_class=JsonBodyRoute)


def assets_directory() -> Path:
    return Path(str(files("fastapi_offline") / "static"))


def _asset_url(request: Request, name: str) -> str:
    return f"{request.scope.get('root_path', '')}{ASSETS_URL}/{name}"


@router.get("/docs", include_in_schema=False, operation_id="getSwaggerUi")
async def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_swagger_ui_html(
        openapi_url=f"{root}{OPENAPI_URL}",
        title=f"{TITLE} - Swagger UI",
        swagger_js_url=_asset_url(request, "swagger-ui-bundle.js"),
        swagger_css_url=_asset_url(request, "swagger-ui.css"),
        swagger_favicon_url=_asset_url(request, "favicon.png"),
        # No call to the public validator service for a badge: nothing leaves this server.
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get("/redoc", include_in_schema=False, operation_id="getRedoc")
async def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_redoc_html(
        openapi_url=f"{root}{OPENAPI_URL}",
        title=f"{TITLE} - ReDoc",
        redoc_js_url=_asset_url(request, "redoc.standalone.js"),
        redoc_favicon_url=_asset_url(request, "favicon.png"),
        with_google_fonts=False,
    )


@router.get(ASSETS_URL + "/{name}", include_in_schema=False, operation_id="getDocsAsset")
async def docs_asset(name: str) -> FileResponse:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise NotFound("No such documentation asset.")
    return FileResponse(
        assets_directory() / name, media_type=media_type, headers={"Cache-Control": ASSET_CACHE}
    )
