//! Server-side rendering (issue 15): raster tiles of the scenario styles, checked from outside
//! bando: Pillow decodes the pictures, mapbox-vector-tile decodes the vector tiles they must be
//! drawn from.

mod common;

use common::{run_checker, tile_of, Server};

/// Saves bytes to a temp file and returns it (kept alive by the caller).
fn saved(bytes: &[u8]) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    file
}

/// Pillow's reading of a picture: format, size, and the colours at `points`.
fn picture(bytes: &[u8], points: &[(u32, u32)], colour: Option<(&str, f64)>) -> serde_json::Value {
    let file = saved(bytes);
    let mut args = vec!["tests/py/raster_check.py".to_string(), file.path().to_str().unwrap().to_string()];
    args.extend(points.iter().map(|(x, y)| format!("{x},{y}")));
    if let Some((hex, within)) = colour {
        args.extend(["--colour".into(), hex.into(), "--within".into(), within.to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    serde_json::from_str(&run_checker("python3", &args)).unwrap()
}

fn distance(pixel: &serde_json::Value, hex: &str) -> f64 {
    let want: Vec<f64> = (0..3)
        .map(|i| u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).unwrap() as f64)
        .collect();
    (0..3).map(|i| (pixel[i].as_f64().unwrap() - want[i]).powi(2)).sum::<f64>().sqrt()
}

fn header(server: &Server, path: &str, name: &str) -> Option<String> {
    match ureq::get(&server.url(path)).call() {
        Ok(r) => r.header(name).map(str::to_string),
        Err(e) => panic!("{path}: {e}"),
    }
}

/// The z15 tile over the middle of the demo's housing.
fn housing_tile(server: &Server) -> (u32, u32) {
    let (lon, lat) = server.middle_of("housing");
    tile_of(lon, lat, 15)
}

#[test]
fn raster_tiles_draw_the_scenario_style_where_the_vector_tiles_put_the_features() {
    let store = common::demo_store(2000);
    let server = Server::start(&store, &[]);
    let (x, y) = housing_tile(&server);
    let mvt = server.get(&format!("/scenarios/social_welfare/15/{x}/{y}.mvt")).1;
    let mvt_file = saved(&mvt);
    // 512-pixel tiles show vector tile 15/x/y whole; temporary houses are the top circle layer.
    let points: Vec<(f64, f64)> = serde_json::from_str(&run_checker(
        "python3",
        &[
            "tests/py/tile_points.py",
            mvt_file.path().to_str().unwrap(),
            "temporary_houses",
            "512",
        ],
    ))
    .unwrap();
    assert!(points.len() >= 3, "the demo has temporary houses in tile 15/{x}/{y}: {points:?}");

    let (status, png, content_type) = server.get(&format!("/scenarios/social_welfare/raster/15/{x}/{y}.png?tile_size=512"));
    assert_eq!((status, content_type.as_str()), (200, "image/png"));
    let pixels: Vec<(u32, u32)> = points.iter().map(|&(px, py)| (px as u32, py as u32)).collect();
    let seen = picture(&png, &pixels, None);
    assert_eq!(seen["format"], "PNG");
    assert_eq!(seen["size"], serde_json::json!([512, 512]));
    let on_circle = seen["pixels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| distance(p, "d7301f") < 40.0)
        .count();
    assert!(
        on_circle * 10 >= points.len() * 8,
        "{on_circle} of {} temporary houses are drawn in #d7301f at their tile position: {seen}",
        points.len()
    );

    // @2x: the same ground with twice the pixels, the circles at twice the coordinates.
    let (_, png2x, _) = server.get(&format!("/scenarios/social_welfare/raster/15/{x}/{y}@2x.png?tile_size=512"));
    let doubled: Vec<(u32, u32)> = points.iter().map(|&(px, py)| ((px * 2.0) as u32, (py * 2.0) as u32)).collect();
    let seen2x = picture(&png2x, &doubled, None);
    assert_eq!(seen2x["size"], serde_json::json!([1024, 1024]));
    let on_circle_2x = seen2x["pixels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| distance(p, "d7301f") < 40.0)
        .count();
    assert!(on_circle_2x * 10 >= points.len() * 8, "@2x: {seen2x}");

    // 256-pixel tiles (the default) and the other formats decode to their sizes.
    for (path, format, size) in [
        (format!("/scenarios/social_welfare/raster/15/{x}/{y}.jpg"), "JPEG", 256),
        (format!("/scenarios/social_welfare/raster/15/{x}/{y}.webp"), "WEBP", 256),
        (
            format!("/scenarios/land_management/raster/14/{}/{}@2x.png", x / 2, y / 2),
            "PNG",
            512,
        ),
    ] {
        let (status, bytes, _) = server.get(&path);
        assert_eq!(status, 200, "{path}");
        let seen = picture(&bytes, &[], None);
        assert_eq!(
            (seen["format"].as_str().unwrap(), seen["size"][0].as_u64().unwrap()),
            (format, size),
            "{path}"
        );
    }
}

#[test]
fn raster_tiles_are_cached_with_etags_and_their_tilejson_names_them() {
    let store = common::demo_store(2000);
    let server = Server::start(&store, &[]);
    let (x, y) = housing_tile(&server);
    let path = format!("/scenarios/social_welfare/raster/15/{x}/{y}.png");
    assert_eq!(header(&server, &path, "x-cache").as_deref(), Some("miss"));
    assert_eq!(header(&server, &path, "x-cache").as_deref(), Some("hit"));
    let etag = header(&server, &path, "etag").unwrap();
    let revalidated = ureq::get(&server.url(&path)).set("If-None-Match", &etag).call().unwrap();
    assert_eq!(revalidated.status(), 304);

    let (status, doc) = server.get_json("/scenarios/social_welfare/raster.json");
    assert_eq!(status, 200);
    assert_eq!(doc["tileSize"], 256);
    assert!(
        doc["tiles"][0]
            .as_str()
            .unwrap()
            .ends_with("/scenarios/social_welfare/raster/{z}/{x}/{y}.png"),
        "{doc}"
    );
    assert!(doc["bounds"].is_array() && doc["vector_layers"].is_null(), "{doc}");
    let (_, doc512) = server.get_json("/scenarios/social_welfare/raster.json?tile_size=512");
    assert_eq!(doc512["tileSize"], 512);
    assert!(doc512["tiles"][0].as_str().unwrap().ends_with("?tile_size=512"));

    let uncached = Server::start(&store, &["--no-cache"]);
    assert_eq!(header(&uncached, &path, "x-cache").as_deref(), Some("miss"));
    assert_eq!(
        header(&uncached, &path, "x-cache").as_deref(),
        Some("miss"),
        "--no-cache renders every time"
    );
}

#[test]
fn bad_raster_requests_are_refused_with_json_errors() {
    let store = common::demo_store(2000);
    let server = Server::start(&store, &[]);
    server.assert_json_errors(&[
        ("/scenarios/social_welfare/raster/15/1/2.gif", 404),
        ("/scenarios/social_welfare/raster/15/1/2", 404),
        ("/scenarios/social_welfare/raster/15/1/2.png?tile_size=300", 400),
        ("/scenarios/social_welfare/raster/23/1/2.png", 400),
        ("/scenarios/social_welfare/raster/2/9/2.png", 400),
        ("/scenarios/nowhere/raster/15/1/2.png", 404),
        ("/scenarios/nowhere/raster.json", 404),
    ]);
}

/// Where EPSG:3857 puts a lon/lat on a picture of `w`×`h` CSS pixels centred on `centre` at a
/// MapLibre zoom (512-pixel world): the textbook formula, not bando's code.
fn mercator_pixel((lon, lat): (f64, f64), centre: (f64, f64), zoom: f64, (w, h): (f64, f64)) -> (f64, f64) {
    let world = |lon: f64, lat: f64| {
        let x = (lon + 180.0) / 360.0;
        let y = 0.5 - (std::f64::consts::FRAC_PI_4 + lat.to_radians() / 2.0).tan().ln() / (2.0 * std::f64::consts::PI);
        (x, y)
    };
    let (px, py) = world(lon, lat);
    let (cx, cy) = world(centre.0, centre.1);
    let size = 512.0 * zoom.exp2();
    ((px - cx) * size + w / 2.0, (py - cy) * size + h / 2.0)
}

fn encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn static_maps_put_overlays_and_markers_on_the_expected_pixels() {
    let store = common::demo_store(2000);
    let server = Server::start(&store, &[]);
    let centre = (107.58, 16.46);
    let (w, s, e, n) = (107.576, 16.457, 107.583, 16.4625);
    let square = format!(
        r##"{{"type":"Feature","properties":{{"fill":"#00ff00","fill-opacity":1,"stroke":"#00ff00","stroke-width":1}},"geometry":{{"type":"Polygon","coordinates":[[[{w},{s}],[{e},{s}],[{e},{n}],[{w},{n}],[{w},{s}]]]}}}}"##
    );
    let path = format!(
        "/scenarios/social_welfare/static/107.58,16.46,15/600x400.png?overlay={}",
        encoded(&square)
    );
    let (status, png, content_type) = server.get(&path);
    assert_eq!(
        (status, content_type.as_str()),
        (200, "image/png"),
        "{}",
        String::from_utf8_lossy(&png)
    );
    let seen = picture(&png, &[], Some(("00ff00", 10.0)));
    assert_eq!(seen["size"], serde_json::json!([600, 400]));
    let (x0, y0) = mercator_pixel((w, n), centre, 15.0, (600.0, 400.0));
    let (x1, y1) = mercator_pixel((e, s), centre, 15.0, (600.0, 400.0));
    let bbox: Vec<f64> = seen["bbox"]
        .as_array()
        .expect("the overlay is drawn")
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    // Pixel i covers [i, i + 1): the last fully green column of an edge at 439.8 is 438.
    for (got, want) in bbox.iter().zip([x0, y0, x1 - 1.0, y1 - 1.0]) {
        assert!(
            (got - want).abs() <= 1.0,
            "overlay box {bbox:?} vs EPSG:3857 {:?}",
            [x0, y0, x1, y1]
        );
    }
    let inside = ((x1 - x0) * (y1 - y0)) as u64;
    assert!(
        seen["matching"].as_u64().unwrap() as f64 >= inside as f64 * 0.9,
        "the square is filled: {seen}"
    );

    // A marker's tip sits on its point; @2x doubles every pixel coordinate.
    let marker = (107.574, 16.463);
    let path = format!(
        "/scenarios/social_welfare/static/107.58,16.46,15/600x400@2x.png?markers={},{},0000ff",
        marker.0, marker.1
    );
    let (status, png, _) = server.get(&path);
    assert_eq!(status, 200);
    let seen = picture(&png, &[], Some(("0000ff", 60.0)));
    assert_eq!(seen["size"], serde_json::json!([1200, 800]));
    let (mx, my) = mercator_pixel(marker, centre, 15.0, (600.0, 400.0));
    let b: Vec<f64> = seen["bbox"]
        .as_array()
        .expect("the marker is drawn")
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    // The pin's head (radius 8, centred 20 CSS pixels up) tops out 28 CSS pixels above the
    // point; its tip narrows to under a pixel and its dark edge, so its blue ends just above it.
    let (tip_x, tip_y) = (mx * 2.0, my * 2.0);
    assert!(((b[0] + b[2]) / 2.0 - tip_x).abs() <= 2.0, "pin {b:?} is centred over x {tip_x}");
    assert!((b[1] - (tip_y - 56.0)).abs() <= 3.0, "pin {b:?}: head top vs {}", tip_y - 56.0);
    assert!(b[3] <= tip_y && b[3] >= tip_y - 8.0, "pin {b:?}: tip vs {tip_y}");

    // A box fitted to the picture: its corners land on the picture's edges (one pair at least).
    let (status, png, _) =
        server.get("/scenarios/land_management/static/107.55,16.44,107.61,16.48/640x480.jpg?scale_bar=true&north_arrow=true&legend=true");
    assert_eq!(status, 200);
    let seen = picture(&png, &[], Some(("000000", 60.0)));
    assert_eq!(
        (seen["format"].as_str(), seen["size"].clone()),
        (Some("JPEG"), serde_json::json!([640, 480]))
    );
    let dark = seen["bbox"].as_array().expect("scale bar, north arrow and legend text are black");
    assert!(
        dark[0].as_u64().unwrap() < 40 && dark[3].as_u64().unwrap() > 440,
        "the scale bar is at the bottom left: {seen}"
    );
}

#[test]
fn bad_static_map_requests_are_refused_with_json_errors() {
    let store = common::demo_store(2000);
    let server = Server::start(&store, &[]);
    server.assert_json_errors(&[
        ("/scenarios/social_welfare/static/107.58,16.46,15/3000x300.png", 400),
        ("/scenarios/social_welfare/static/107.58,16.46,15/0x300.png", 400),
        ("/scenarios/social_welfare/static/107.58,16.46/300x300.png", 400),
        ("/scenarios/social_welfare/static/107.6,16.4,107.5,16.5/300x300.png", 400),
        ("/scenarios/social_welfare/static/107.58,16.46,30/300x300.png", 400),
        ("/scenarios/social_welfare/static/107.58,16.46,15/300x300.gif", 400),
        ("/scenarios/social_welfare/static/107.58,16.46,15/300x300.png?overlay=nope", 400),
        ("/scenarios/social_welfare/static/107.58,16.46,15/300x300.png?markers=1", 400),
        ("/scenarios/social_welfare/static/107.58,16.46,15/300x300.png?legend=maybe", 400),
        ("/scenarios/social_welfare/static/107.58,16.46,15/300x300.png?colour=red", 400),
        ("/scenarios/nowhere/static/107.58,16.46,15/300x300.png", 404),
    ]);
}
