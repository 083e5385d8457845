//! `/ogc/collections/{id}/items` and `/items/{featureId}`: features selected through the
//! layer's R-tree when a box or a filter with a spatial part is given (else the layer in id
//! order, which needs no scan to count), narrowed by a scenario layer's `where`, `datetime`, property filters and the CQL2
//! `filter`, one page of them written as GeoJSON bytes in the asked `crs` with
//! `numberMatched`, `numberReturned`, `timeStamp` and `self`/`alternate`/`next`/`prev` links.

use serde_json::Value as Json;

use super::access::Collection;
use super::crs::{Crs, Output};
use super::params::{ItemsQuery, Query};
use super::{link, self_links, OgcError, Site, GEOJSON, JSON};
use crate::feature::Feature;
use crate::index::{aabb, LayerData, Members};
use crate::query::output::{geometry, string, value};

/// The features a query matched, as indices into the layer, in id order.
enum Matched {
    /// The whole layer: its features in order, counted without a scan.
    All(usize),
    Some(Vec<u32>),
}

impl Matched {
    fn len(&self) -> usize {
        match self {
            Matched::All(n) => *n,
            Matched::Some(v) => v.len(),
        }
    }

    fn page(&self, offset: usize, limit: usize) -> Vec<u32> {
        let end = offset.saturating_add(limit).min(self.len());
        let start = offset.min(end);
        match self {
            Matched::All(_) => (start as u32..end as u32).collect(),
            Matched::Some(v) => v[start..end].to_vec(),
        }
    }
}

/// Whether `feature` passes the parts of the query its R-tree lookup did not settle.
fn passes(q: &ItemsQuery, collection: &Collection, feature: &Feature) -> bool {
    collection.holds(feature)
        && q.datetime.as_ref().is_none_or(|(i, span)| span.holds(&feature.properties[*i]))
        && q.equals.iter().all(|(i, v)| &feature.properties[*i] == v)
        && q.filter.as_ref().is_none_or(|f| f.matches(feature))
}

/// The features of the collection the query matches, only those of `members` (a scoped view's
/// area) when given. `bbox`, else a filter's spatial part, picks the candidates from the R-tree.
fn select(collection: &Collection, q: &ItemsQuery, members: Option<&Members>) -> Matched {
    let layer = &collection.layer;
    let filtered = collection.only.is_some() || q.datetime.is_some() || !q.equals.is_empty() || q.filter.is_some() || members.is_some();
    let kept = |i: u32| members.is_none_or(|m| m.contains(i)) && passes(q, collection, &layer.features[i as usize]);
    let mut hits: Vec<u32> = if let Some(boxes) = &q.boxes {
        let layers = std::slice::from_ref(layer);
        boxes
            .iter()
            .flat_map(|b| crate::query::bbox_hits(layers, b))
            .map(|h| h.index)
            .filter(|&i| kept(i))
            .collect()
    } else if let Some(envelope) = q.filter.as_ref().and_then(|f| f.envelope()) {
        envelope
            .iter()
            .flat_map(|b| layer.tree.locate_in_envelope_intersecting(&aabb(b)))
            .map(|entry| entry.index)
            .filter(|&i| kept(i))
            .collect()
    } else if !filtered {
        return Matched::All(layer.features.len());
    } else {
        return Matched::Some((0..layer.features.len() as u32).filter(|&i| kept(i)).collect());
    };
    hits.sort_unstable();
    hits.dedup();
    Matched::Some(hits)
}

/// GeoJSON bytes, the CRS of their coordinates (the `Content-Crs` of the answer) and the
/// number of features they hold (`numberReturned`, for the audit record).
pub struct GeoJson {
    pub body: Vec<u8>,
    pub crs: Crs,
    pub features: u64,
}

/// One feature as GeoJSON in `crs`, its visible properties only; `links` (a JSON array) when given.
fn write_feature(
    out: &mut Vec<u8>,
    feature: &Feature,
    layer: &LayerData,
    fields: &[usize],
    crs: &Output,
    links: Option<&Json>,
) -> Result<(), OgcError> {
    out.extend_from_slice(b"{\"type\":\"Feature\",\"id\":");
    out.extend_from_slice(itoa::Buffer::new().format(feature.id).as_bytes());
    out.extend_from_slice(b",\"geometry\":");
    match crs.geometry(&feature.geometry)? {
        Some(converted) => geometry(out, &converted),
        None => geometry(out, &feature.geometry),
    }
    out.extend_from_slice(b",\"properties\":{");
    for (n, &i) in fields.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        string(out, &layer.meta.fields[i].name);
        out.push(b':');
        value(out, &feature.properties[i]);
    }
    out.push(b'}');
    if let Some(links) = links {
        out.extend_from_slice(b",\"links\":");
        out.extend_from_slice(links.to_string().as_bytes());
    }
    out.push(b'}');
    Ok(())
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The links of one page: self and alternate, the collection, next and previous pages.
fn page_links(site: &Site, id: &str, query: &Query, q: &ItemsQuery, matched: usize) -> Json {
    let href = format!("{}/collections/{id}/items", site.base);
    let selection = query.selection_string();
    let with_offset = |offset: usize| {
        let mut s = selection.clone();
        if offset > 0 {
            s.push_str(if s.is_empty() { "offset=" } else { "&offset=" });
            s.push_str(&offset.to_string());
        }
        s
    };
    let mut links: Vec<Json> = self_links(&href, &with_offset(q.offset), GEOJSON, "this page").into();
    links.push(link(format!("{}/collections/{id}?f=json", site.base), "collection", JSON, id));
    if q.offset.saturating_add(q.limit) < matched {
        let next = with_offset(q.offset + q.limit);
        links.push(link(format!("{href}?{next}&f=json"), "next", GEOJSON, "next page"));
    }
    if q.offset > 0 {
        let prev = with_offset(q.offset.saturating_sub(q.limit));
        let sep = if prev.is_empty() { "" } else { "&" };
        links.push(link(format!("{href}?{prev}{sep}f=json"), "prev", GEOJSON, "previous page"));
    }
    Json::Array(links)
}

/// `/ogc/collections/{id}/items`: a GeoJSON FeatureCollection.
pub fn items(site: &Site, id: &str, raw_query: &str) -> crate::Result<GeoJson> {
    let collection = super::access::collection(site, id)?;
    let layer = &collection.layer;
    let query = Query::parse(raw_query)?;
    let q = ItemsQuery::parse(&query, &layer.meta, site.view)?;
    let members = site.view.members(site.catalog, layer);
    let matched = select(&collection, &q, members.as_deref());
    let page = matched.page(q.offset, q.limit);
    let fields = site.view.fields(&layer.meta);
    let crs = Output::new(q.crs)?;
    let mut out = Vec::with_capacity(512 + page.len() * 400);
    out.extend_from_slice(b"{\"type\":\"FeatureCollection\",\"features\":[");
    for (n, &i) in page.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_feature(&mut out, &layer.features[i as usize], layer, &fields, &crs, None)?;
    }
    out.extend_from_slice(b"],\"numberMatched\":");
    out.extend_from_slice(itoa::Buffer::new().format(matched.len()).as_bytes());
    out.extend_from_slice(b",\"numberReturned\":");
    out.extend_from_slice(itoa::Buffer::new().format(page.len()).as_bytes());
    out.extend_from_slice(b",\"timeStamp\":");
    string(&mut out, &now());
    out.extend_from_slice(b",\"links\":");
    out.extend_from_slice(page_links(site, id, &query, &q, matched.len()).to_string().as_bytes());
    out.push(b'}');
    Ok(GeoJson {
        body: out,
        crs: q.crs,
        features: page.len() as u64,
    })
}

/// `/ogc/collections/{id}/items/{featureId}`: one GeoJSON Feature.
pub fn item(site: &Site, id: &str, feature_id: &str, raw_query: &str) -> crate::Result<GeoJson> {
    let collection = super::access::collection(site, id)?;
    let layer = &collection.layer;
    let query = Query::parse(raw_query)?;
    query.only(&["f", "crs"], "a feature takes f=json or f=html and crs")?;
    let crs = Output::new(query.crs("crs")?)?;
    let missing = || OgcError::NoFeature {
        collection: id.to_string(),
        id: feature_id.to_string(),
    };
    let fid: i64 = feature_id.parse().map_err(|_| missing())?;
    let index = layer.features.binary_search_by_key(&fid, |f| f.id).map_err(|_| missing())?;
    // A feature outside a scoped view's area, or a scenario layer's `where`, does not exist for it.
    let feature = &layer.features[index];
    if !collection.holds(feature) || site.view.members(site.catalog, layer).is_some_and(|m| !m.contains(index as u32)) {
        return Err(missing().into());
    }
    let href = format!("{}/collections/{id}/items/{fid}", site.base);
    let mut links: Vec<Json> = self_links(&href, &query.selection_string(), GEOJSON, "this feature").into();
    links.push(link(format!("{}/collections/{id}?f=json", site.base), "collection", JSON, id));
    let mut out = Vec::with_capacity(1024);
    let fields = site.view.fields(&layer.meta);
    write_feature(&mut out, feature, layer, &fields, &crs, Some(&Json::Array(links)))?;
    Ok(GeoJson {
        body: out,
        crs: crs.crs(),
        features: 1,
    })
}
