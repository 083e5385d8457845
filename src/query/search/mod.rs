//! Feature searches: [`point`], [`radius`], [`bbox`], [`boundary`] and [`nearest`]. Each walks
//! the layers' R-trees for candidates, tests them exactly, and returns [`Hit`]s; this file orders
//! and pages hits and hands them to the writers. The `*_hits` functions are the core entry
//! points (benchmarks call them); the others read request parameters.

mod bbox;
mod boundary;
mod nearest;
mod point;
mod radius;

use std::cmp::Ordering;
use std::sync::Arc;

use super::output::{self, Format};
use super::params::{Page, Params};
use super::{Answer, Context, LayerData};

pub use bbox::{bbox, bbox_hits};
pub use boundary::{boundary, boundary_hits, Predicate};
pub use nearest::{nearest, nearest_hits};
pub use point::{point, point_hits};
pub use radius::{radius, radius_hits};

/// One matching feature: which queried layer, its position in that layer's features, and its
/// distance (m) from the query point (0 for area queries).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub layer: u16,
    pub index: u32,
    pub distance_m: f64,
}

/// The stable result order: by distance, then layer as requested, then feature id (features are
/// stored in id order, so `index` orders like the id).
fn order(a: &Hit, b: &Hit) -> Ordering {
    a.distance_m
        .total_cmp(&b.distance_m)
        .then(a.layer.cmp(&b.layer))
        .then(a.index.cmp(&b.index))
}

/// Every hit of a query over some layers.
pub struct Matches {
    pub layers: Vec<Arc<LayerData>>,
    pub hits: Vec<Hit>,
    /// Whether `distance_m` means something (point-based queries) and is written out.
    pub with_distance: bool,
}

impl Matches {
    /// Drops the hits outside a scoped view's area.
    fn keep_area(&mut self, ctx: &Context) {
        if ctx.view.area().is_none() {
            return;
        }
        let members: Vec<_> = self.layers.iter().map(|l| ctx.view.members(ctx.catalog, l)).collect();
        self.hits
            .retain(|h| members[h.layer as usize].as_ref().is_none_or(|m| m.contains(h.index)));
    }

    /// The hits of one page in order, sorting only as far as the page reaches.
    pub fn page(&mut self, page: Page) -> &[Hit] {
        let end = page.offset.saturating_add(page.limit).min(self.hits.len());
        if end < self.hits.len() && end > 0 {
            self.hits.select_nth_unstable_by(end - 1, order);
        }
        let head = &mut self.hits[..end];
        head.sort_unstable_by(order);
        &self.hits[page.offset.min(end)..end]
    }

    /// Writes the requested page in the requested format, of the hits inside the view's area.
    pub fn answer(mut self, params: &Params, ctx: &Context) -> crate::Result<Answer> {
        let view = ctx.view;
        let format = Format::parse(params.get("format"))?;
        let fields = params.fields(&self.layers, view)?;
        self.keep_area(ctx);
        let page = params.page()?;
        let total = self.hits.len();
        let with_distance = self.with_distance;
        let layers = self.layers.clone();
        let hits = self.page(page);
        let features = Some(hits.len() as u64);
        let list = output::HitList {
            layers: &layers,
            hits,
            total,
            with_distance,
            fields: fields.as_deref(),
            view,
        };
        Ok(match format {
            Format::GeoJson => Answer {
                content_type: "application/geo+json",
                body: output::geojson(&list),
                features,
            },
            Format::Csv => Answer {
                content_type: "text/csv; charset=utf-8",
                body: output::csv(&list)?,
                features,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_come_in_a_stable_order() {
        let hits: Vec<Hit> = (0..100u32)
            .map(|i| Hit {
                layer: (i % 3) as u16,
                index: i,
                distance_m: f64::from(i % 7),
            })
            .collect();
        let mut all = hits.clone();
        all.sort_by(order);
        let mut m = Matches {
            layers: vec![],
            hits: hits.clone(),
            with_distance: true,
        };
        assert_eq!(m.page(Page { limit: 10, offset: 20 }), &all[20..30]);
        let mut m = Matches {
            layers: vec![],
            hits,
            with_distance: true,
        };
        assert_eq!(m.page(Page { limit: 10, offset: 95 }), &all[95..]);
        assert!(m.page(Page { limit: 10, offset: 500 }).is_empty());
    }
}
