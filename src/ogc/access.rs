//! The one place the OGC API looks layers up for a request: through its policy [`View`], like
//! every other route. A layer outside the view does not exist for it (404, absent from
//! `/collections`); fields are asked of the view (`View::fields`, `View::field_index`), so a
//! hidden field is never written and filtering on it is refused as on an unknown field. A layer
//! the view gets only as figures is the collection of its units with their counts.
//!
//! A collection is a store layer, or a scenario's layer: `{scenario}.{layer id}` (scenario ids
//! and store layer names hold no dot) is the store layer's features that the scenario's `where`
//! selects, with the store layer's visible fields, so the policy applies to it exactly as to the
//! store layer (hidden layer, no collection).

use std::sync::Arc;

use super::{OgcError, Site};
use crate::feature::Feature;
use crate::index::{Catalog, LayerData};
use crate::policy::View;
use crate::scenarios::{BoundFilter, Scenario, ScenarioLayer};

/// One collection as a request sees it.
pub struct Collection {
    /// `parcels`, or `land_management.parcels` for a scenario's layer.
    pub id: String,
    pub layer: Arc<LayerData>,
    /// A scenario layer's `where`, bound to the store layer.
    pub only: Option<BoundFilter>,
}

impl Collection {
    fn of_layer(layer: Arc<LayerData>) -> Collection {
        Collection {
            id: layer.meta.name.clone(),
            layer,
            only: None,
        }
    }

    /// Whether `feature` (of the store layer) belongs to the collection.
    pub fn holds(&self, feature: &Feature) -> bool {
        self.only.as_ref().is_none_or(|only| only.matches(feature))
    }
}

/// The layers `view` sees, by name (an aggregate-only layer as its figures per unit).
pub fn layers(catalog: &Catalog, view: &View) -> Vec<Arc<LayerData>> {
    view.layers(catalog)
}

/// The store layer `id` as `view` sees it, or not found (also when it exists outside the view).
pub fn layer(catalog: &Catalog, view: &View, id: &str) -> Result<Arc<LayerData>, OgcError> {
    view.layer(catalog, id).ok_or_else(|| OgcError::NoCollection(id.to_string()))
}

/// Every collection the request sees: the store layers, then each scenario's layers.
pub fn collections(site: &Site) -> Vec<Collection> {
    let stored = layers(site.catalog, site.view).into_iter().map(Collection::of_layer);
    let scenario_layers = site
        .scenarios
        .iter()
        .flat_map(|s| s.layers.iter().filter_map(move |l| scenario_layer(site, s, l)));
    stored.chain(scenario_layers).collect()
}

/// The collection `id`, or not found.
pub fn collection(site: &Site, id: &str) -> Result<Collection, OgcError> {
    let Some((scenario_id, layer_id)) = id.split_once('.') else {
        return layer(site.catalog, site.view, id).map(Collection::of_layer);
    };
    site.scenarios
        .get(scenario_id)
        .ok()
        .and_then(|s| {
            let l = s.layers.iter().find(|l| l.tile_id() == layer_id)?;
            scenario_layer(site, s, l)
        })
        .ok_or_else(|| OgcError::NoCollection(id.to_string()))
}

/// A scenario's layer as a collection, when the view sees its store layer (and the scenario's
/// `where` fits it: a scenario naming a field the layer lacks draws nothing, and lists nothing).
fn scenario_layer(site: &Site, scenario: &Scenario, layer: &ScenarioLayer) -> Option<Collection> {
    let data = site.view.layer(site.catalog, &layer.layer)?;
    let only = layer.filter.bind(&data.meta).ok()?;
    Some(Collection {
        id: format!("{}.{}", scenario.id, layer.tile_id()),
        layer: data,
        only: Some(only),
    })
}
