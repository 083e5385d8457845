//! The machine's HTTP ceiling for a tile response: a bare axum route answering the same bytes
//! from memory with the same headers bando sends for a cached gzipped tile, nothing else.
//! `cargo bench --bench bare_route -- FILE [ADDR]` then e.g.
//! `wrk -t1 -c32 -d15s -H 'Accept-Encoding: gzip' http://ADDR/tile`.

use axum::body::Bytes;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let Some(file) = args.first() else {
        println!("bare_route serves a file until stopped: cargo bench --bench bare_route -- GZIPPED_TILE_FILE [ADDR]; not started");
        return Ok(());
    };
    let addr = args.get(1).map_or("127.0.0.1:3199", String::as_str).to_string();
    let body = Bytes::from(std::fs::read(file)?);
    let app = Router::new().route(
        "/tile",
        get(move || {
            let body = body.clone();
            async move {
                let mut r = Response::new(axum::body::Body::from(body));
                let h = r.headers_mut();
                h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/vnd.mapbox-vector-tile"));
                h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
                h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
                h.insert(header::ETAG, HeaderValue::from_static("\"0123456789abcdef\""));
                r
            }
        }),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        println!("bare route on http://{addr}/tile");
        axum::serve(listener, app).await
    })?;
    Ok(())
}
