"""The FastAPI application factory: routes, limits, error handlers, CORS, the web page.

``create_app`` opens the index (and its model) once; ``app_from_env`` is the import-string
factory uvicorn uses when it runs several worker processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from terrahash import __version__
from terrahash.errors import TerraHashError
from terrahash.index.errors import CorruptIndexError, IndexMismatchError, IndexUnavailableError
from terrahash.service.batcher import BatchConfig, MicroBatcher, QueueFullError
from terrahash.service.docs import docs_page
from terrahash.service.engine import Engine, EngineHolder, NotFoundError, ServiceUnavailableError
from terrahash.service.limits import DEFAULT_MAX_BODY_BYTES, BodySizeLimit
from terrahash.service.params import ParamError
from terrahash.service.responses import FastJSONResponse
from terrahash.service.routes import router
from terrahash.service.stac_api import OPENAPI as OPENAPI_MEDIA_TYPE
from terrahash.service.stac_api import landing_page
from terrahash.service.stac_api import router as stac_router
from terrahash.service.uploads import UploadError

STATIC_DIR = Path(__file__).parent / "static"
#: Environment variables read by ``app_from_env`` (set by ``terrahash serve --workers N``).
ENV_INDEX = "TERRAHASH_SERVICE_INDEX"
ENV_CORS = "TERRAHASH_SERVICE_CORS"
ENV_MAX_BODY = "TERRAHASH_SERVICE_MAX_BODY"
ENV_ADMIN_TOKEN = "TERRAHASH_ADMIN_TOKEN"
#: Micro-batching (``terrahash serve --batch-window-ms/-max/-queue/-workers, --no-batching``).
ENV_BATCHING = "TERRAHASH_SERVICE_BATCHING"
ENV_BATCH_WINDOW_MS = "TERRAHASH_SERVICE_BATCH_WINDOW_MS"
ENV_BATCH_MAX = "TERRAHASH_SERVICE_BATCH_MAX"
ENV_BATCH_QUEUE = "TERRAHASH_SERVICE_BATCH_QUEUE"
ENV_BATCH_WORKERS = "TERRAHASH_SERVICE_BATCH_WORKERS"
#: Searches are micro-batched unless ``batching=None``.
DEFAULT_BATCHING = BatchConfig()
log = logging.getLogger("terrahash.service")


def create_app(
    index_dir: str | Path,
    *,
    cors_origins: Sequence[str] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    read_only: bool = True,
    admin_token: str | None = None,
    reload_on_sighup: bool = False,
    warm: bool = True,
    batching: BatchConfig | None = DEFAULT_BATCHING,
) -> FastAPI:
    """Build the retrieval service for one index directory.

    Args:
        index_dir: an index made by ``terrahash index build``; its manifest names the model.
        cors_origins: origins allowed by CORS; ``None`` (default) sends no CORS headers.
        max_body_bytes: request bodies above this are answered with 413.
        read_only: the service never writes to the index (the only admin verb is reload).
        admin_token: when set, ``POST /admin/reload`` needs ``Authorization: Bearer TOKEN``;
            when not, it answers only clients on loopback (403 for the rest).
        reload_on_sighup: reload the index on SIGHUP (the server's main thread only).
        warm: load the model at start-up rather than on the first query.
        batching: answer concurrent searches together (``BatchConfig``: wait window, batch
            size, queue bound); ``None`` runs each request's search on its own.

    Raises:
        TerraHashError: the index cannot be opened (names the folder and the problem).
    """
    if not read_only:
        raise ValueError("the service has no write endpoints; read_only=False is not supported")
    holder = EngineHolder(Path(index_dir), read_only=read_only, warm=warm)
    batcher = MicroBatcher(batching) if batching is not None else None

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if reload_on_sighup and hasattr(signal, "SIGHUP"):
            _install_sighup(holder)
        yield
        if batcher is not None:
            await asyncio.to_thread(batcher.close)

    app = FastAPI(
        title="TerraHash retrieval service",
        version=__version__,
        description="Remote sensing image retrieval by image, metadata, text or id, with "
        "spatiotemporal filters; results are STAC Items.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
        default_response_class=FastJSONResponse,  # one JSON encoder for every body
    )
    app.state.holder = holder
    app.state.batcher = batcher
    app.state.admin_token = admin_token
    app.include_router(router)
    app.include_router(stac_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    _install_error_handlers(app)

    @app.get("/", tags=["STAC API"],
             responses={200: {"content": {"text/html": {}}}})
    def landing(request: Request) -> Response:
        """The STAC API landing page (JSON); a browser asking for HTML gets the map page."""
        if _prefers_html(request.headers.get("accept", "")):
            return map_page()
        return FastJSONResponse(landing_page(request))

    @app.get("/map", include_in_schema=False)
    def map_page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(request: Request) -> JSONResponse:
        # STAC API's service-desc link promises the OpenAPI media type to clients asking for it
        accept = request.headers.get("accept", "")
        media_type = OPENAPI_MEDIA_TYPE if "application/vnd.oai.openapi" in accept else "application/json"
        return FastJSONResponse(app.openapi(), media_type=media_type)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(docs_page(app.openapi(), STATIC_DIR))

    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    if cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=["*"])
    return app


def app_from_env(warm: bool = True) -> FastAPI:
    """``create_app`` configured from ``TERRAHASH_SERVICE_*`` variables (uvicorn workers)."""
    index_dir = os.environ.get(ENV_INDEX)
    if not index_dir:
        raise TerraHashError(f"{ENV_INDEX} is not set; start the server with 'terrahash serve'")
    cors = [o for o in os.environ.get(ENV_CORS, "").split(",") if o]
    return create_app(
        index_dir,
        cors_origins=cors or None,
        max_body_bytes=int(os.environ.get(ENV_MAX_BODY, DEFAULT_MAX_BODY_BYTES)),
        admin_token=os.environ.get(ENV_ADMIN_TOKEN) or None,
        reload_on_sighup=True,
        warm=warm,
        batching=batching_from_env(),
    )


def _prefers_html(accept: str) -> bool:
    """Whether an ``Accept`` header ranks HTML above JSON (browsers do; STAC clients do not)."""
    def quality(media: str) -> float:
        best = 0.0
        for part in accept.lower().split(","):
            kind, *options = (p.strip() for p in part.split(";"))
            if kind == media:
                q = next((o[2:] for o in options if o.startswith("q=")), "1")
                try:
                    best = max(best, float(q))
                except ValueError:
                    continue
        return best

    return quality("text/html") > max(quality("application/json"), quality("application/geo+json"))


def batching_from_env() -> BatchConfig | None:
    """The ``BatchConfig`` of the ``TERRAHASH_SERVICE_BATCH*`` variables (``None``: off)."""
    if os.environ.get(ENV_BATCHING, "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    try:
        return BatchConfig(
            window_ms=float(os.environ.get(ENV_BATCH_WINDOW_MS, DEFAULT_BATCHING.window_ms)),
            max_batch=int(os.environ.get(ENV_BATCH_MAX, DEFAULT_BATCHING.max_batch)),
            queue_size=int(os.environ.get(ENV_BATCH_QUEUE, DEFAULT_BATCHING.queue_size)),
            workers=int(os.environ.get(ENV_BATCH_WORKERS, DEFAULT_BATCHING.workers)),
        )
    except ValueError as exc:
        raise TerraHashError(f"{ENV_BATCHING}*: {exc}") from exc


def _install_sighup(holder: EngineHolder) -> None:
    loop = asyncio.get_running_loop()

    def on_hup() -> None:
        log.info("SIGHUP: reloading %s", holder.index_dir)
        future = loop.run_in_executor(None, holder.reload)
        future.add_done_callback(_log_reload)

    try:
        loop.add_signal_handler(signal.SIGHUP, on_hup)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread / platform
        log.warning("SIGHUP reload not available here; use POST /admin/reload")


def _log_reload(future: asyncio.Future[Engine]) -> None:
    exc = future.exception()
    if exc is not None:
        log.error("reload failed, still serving the previous index: %s", exc)


def _install_error_handlers(app: FastAPI) -> None:
    """Every error is JSON ``{"detail": ...}`` with its status; never a stack trace."""

    def answer(status: int, detail: object, headers: dict[str, str] | None = None) -> JSONResponse:
        return FastJSONResponse({"detail": detail}, status_code=status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return answer(exc.status_code, exc.detail, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
        return answer(422, errors)

    @app.exception_handler(TerraHashError)
    async def user_error(request: Request, exc: TerraHashError) -> JSONResponse:
        if isinstance(exc, NotFoundError):
            return answer(404, str(exc))
        if isinstance(exc, QueueFullError):
            return answer(503, str(exc), {"Retry-After": str(exc.retry_after)})
        if isinstance(exc, IndexUnavailableError):  # the database is down or restarting
            return answer(503, str(exc), {"Retry-After": "1"})
        if isinstance(exc, ServiceUnavailableError | CorruptIndexError | IndexMismatchError):
            return answer(503, str(exc))
        if isinstance(exc, UploadError):
            return answer(exc.status, str(exc))
        if isinstance(exc, ParamError):
            return answer(400, str(exc))
        # Other library errors (bad filter values, code-length mismatch): the client's input.
        return answer(400, str(exc))

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return answer(500, "internal server error (the server log has the details)")
