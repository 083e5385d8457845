//! The web viewer's files: `GET /` (the page), `/viewer/...` (its ES modules and CSS, from
//! `web/viewer/`), `/vendor/maplibre-gl/...` (MapLibre GL JS's dist files) and `/vendor/cesium/...`
//! (CesiumJS's built files: `Cesium.js`, workers, assets, widget CSS), all read from the `--web`
//! folder (default `web/`, the vendor files from `web/node_modules`, installed by `npm ci` in
//! `.ci/setup`). Nothing comes from a CDN: the viewer works with no internet.
//!
//! Owns: static file serving for the viewer and its error when the files are missing.
//! Must not touch: the API routes (tiles, queries, 3D, scenarios); the viewer only calls them
//! over HTTP like any other client, so this module never reads the store, index or scenarios.

use std::path::{Path, PathBuf};

use axum::handler::HandlerWithoutStateExt;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::services::ServeDir;

use super::error::json_error;
use super::AppState;

/// Where the vendor libraries live inside the web folder.
const MAPLIBRE_DIST: &str = "node_modules/maplibre-gl/dist";
const CESIUM_BUILD: &str = "node_modules/cesium/Build/Cesium";

/// The viewer's routes, to be merged into the main router.
pub fn routes(web_dir: &Path) -> Router<AppState> {
    let index = web_dir.join("index.html");
    let missing = || {
        (|| async {
            json_error(
                StatusCode::NOT_FOUND,
                "no such viewer file; if this is a /vendor/ file, install the viewer's libraries with `bash .ci/setup` (npm ci in web/)",
            )
        })
        .into_service()
    };
    let serve = |dir: PathBuf| {
        ServeDir::new(dir)
            .append_index_html_on_directories(false)
            .not_found_service(missing())
    };
    Router::new()
        .route("/", get(move || index_page(index.clone())))
        .route(
            "/index.html",
            get({
                let index = web_dir.join("index.html");
                move || index_page(index.clone())
            }),
        )
        .nest_service("/viewer", serve(web_dir.join("viewer")))
        .nest_service("/vendor/maplibre-gl", serve(web_dir.join(MAPLIBRE_DIST)))
        .nest_service("/vendor/cesium", serve(web_dir.join(CESIUM_BUILD)))
}

/// The page itself, always revalidated so a redeployed viewer is picked up at once.
#[utoipa::path(
    get,
    path = "/",
    tag = "viewer",
    summary = "the web viewer (MapLibre + CesiumJS); its files are under /viewer/ and /vendor/",
    responses((status = 200, description = "the viewer page", content_type = "text/html; charset=utf-8"))
)]
pub(super) async fn index_page(path: PathBuf) -> Response {
    match tokio::fs::read_to_string(&path).await {
        Ok(html) => ([(header::CACHE_CONTROL, "no-cache")], Html(html)).into_response(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "viewer page missing");
            json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!(
                    "the web viewer is not installed at {} ({e}); start bando from the repository root or pass --web DIR",
                    path.display()
                ),
            )
        }
    }
}
