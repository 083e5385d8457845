//! The PostGIS store on a real PostgreSQL 15 + PostGIS 3 (the harness's own cluster), checked
//! with psql and GDAL's ogrinfo.

mod common;

#[test]
fn each_test_database_is_fresh_and_has_postgis() {
    let a = common::pg_database();
    let b = common::pg_database();
    assert_ne!(a, b);
    assert!(common::pg_sql(&a, "SELECT postgis_lib_version()").starts_with('3'));
    common::pg_sql(&a, "CREATE TABLE only_in_a (id int)");
    assert_eq!(
        common::pg_sql(&b, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'"),
        "0"
    );
}
