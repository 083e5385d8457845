//! `GET /api`, the OpenAPI document of all of bando, as outside tools read it: schemathesis
//! (PyPI) loads it from a real `bando serve` and sends a bounded number of generated requests to
//! every operation, failing on any 5xx, any status, content type or JSON body the document does
//! not allow; the OGC landing page links the document as `service-desc`.
mod common;

use common::*;

#[test]
fn schemathesis_finds_every_operation_as_described() {
    let server = Server::start(&demo_store(500), &[]);
    let (status, doc, content_type) = server.get("/api");
    // (the client drops the media type's version=3.1 parameter)
    assert_eq!((status, content_type.as_str()), (200, "application/vnd.oai.openapi+json"));
    let doc: serde_json::Value = serde_json::from_slice(&doc).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    for path in [
        "/tiles/{layers}/{z}/{x}/{y}",
        "/query/radius",
        "/stats",
        "/3d/{layer}/tileset.json",
        "/scenarios/{id}",
        "/ogc/collections/{id}/items",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is not described");
    }
    let (_, landing) = server.get_json("/ogc");
    let service_desc = landing["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "service-desc")
        .expect("the landing page links the OpenAPI document");
    assert_eq!(service_desc["href"], format!("{}/api", server.base));
    let schema = format!("{}/api", server.base);
    let report = run_checker(
        "python3",
        &[
            "-c",
            "import sys; from schemathesis.cli import schemathesis; sys.argv[0] = 'st'; sys.exit(schemathesis())",
            "run",
            &schema,
            "--url",
            &server.base,
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "10",
            "--seed",
            "13",
            "--workers",
            "2",
        ],
    );
    let summary = report
        .lines()
        .find(|l| l.contains(" generated, "))
        .unwrap_or_else(|| panic!("no schemathesis summary:\n{report}"));
    assert!(summary.contains(" passed") && !summary.contains("failed"), "{summary}\n{report}");
}
