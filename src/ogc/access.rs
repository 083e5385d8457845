//! The one place the OGC API looks layers up for a request: through its policy [`View`], like
//! every other route. A layer outside the view does not exist for it (404, absent from
//! `/collections`); fields are asked of the view (`View::fields`, `View::field_index`), so a
//! hidden field is never written and filtering on it is refused as on an unknown field. A layer
//! the view gets only as figures is the collection of its units with their counts.

use std::sync::Arc;

use super::OgcError;
use crate::index::{Catalog, LayerData};
use crate::policy::View;

/// The layers `view` sees, by name (an aggregate-only layer as its figures per unit).
pub fn layers(catalog: &Catalog, view: &View) -> Vec<Arc<LayerData>> {
    view.layers(catalog)
}

/// The collection `id` as `view` sees it, or not found (also when it exists outside the view).
pub fn layer(catalog: &Catalog, view: &View, id: &str) -> Result<Arc<LayerData>, OgcError> {
    view.layer(catalog, id).ok_or_else(|| OgcError::NoCollection(id.to_string()))
}
