//! The one place the OGC API looks layers up for a request: through its policy [`View`], like
//! every other route. A layer outside the view does not exist for it (404, absent from
//! `/collections`); fields are asked of the view (`View::fields`, `View::field_index`), so a
//! hidden field is never written and filtering on it is refused as on an unknown field.

use std::sync::Arc;

use super::OgcError;
use crate::index::{Catalog, LayerData};
use crate::policy::View;

/// The layers `view` sees, by name.
pub fn layers(catalog: &Catalog, view: &View) -> Vec<Arc<LayerData>> {
    catalog
        .snapshot()
        .values()
        .filter(|l| view.may_read(&l.meta.name))
        .cloned()
        .collect()
}

/// The collection `id`, or not found (also when it exists outside the view).
pub fn layer(catalog: &Catalog, view: &View, id: &str) -> Result<Arc<LayerData>, OgcError> {
    catalog
        .get(id)
        .filter(|_| view.may_read(id))
        .ok_or_else(|| OgcError::NoCollection(id.to_string()))
}
