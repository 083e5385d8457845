//! The one place the OGC API decides which layers and fields a request sees: every collection
//! list, collection lookup, field list, property filter and queryable asks here. A layer outside
//! the request's view does not exist for it (404, absent from `/collections`); a field outside it
//! is never written and cannot be filtered on.

use std::sync::Arc;

use super::OgcError;
use crate::index::{Catalog, LayerData};
use crate::store::LayerMeta;

/// What one request may read through the OGC API.
#[derive(Debug, Clone, Default)]
pub struct Access {}

impl Access {
    /// Everything visible: a server without a policy.
    pub fn open() -> Access {
        Access {}
    }

    fn may_read(&self, _layer: &str) -> bool {
        true
    }

    fn hides(&self, _layer: &str, _field: &str) -> bool {
        false
    }

    /// The layers this request sees, by name.
    pub fn layers(&self, catalog: &Catalog) -> Vec<Arc<LayerData>> {
        catalog
            .snapshot()
            .values()
            .filter(|l| self.may_read(&l.meta.name))
            .cloned()
            .collect()
    }

    /// The collection `id`, or not found (also when it exists but is outside the view).
    pub fn layer(&self, catalog: &Catalog, id: &str) -> Result<Arc<LayerData>, OgcError> {
        catalog
            .get(id)
            .filter(|_| self.may_read(id))
            .ok_or_else(|| OgcError::NoCollection(id.to_string()))
    }

    /// Indices of the fields of `meta` this request sees, in the layer's order.
    pub fn fields(&self, meta: &LayerMeta) -> Vec<usize> {
        (0..meta.fields.len())
            .filter(|&i| !self.hides(&meta.name, &meta.fields[i].name))
            .collect()
    }

    /// The index of field `name`, if it exists and is visible: a hidden field is answered like
    /// an unknown one.
    pub fn field_index(&self, meta: &LayerMeta, name: &str) -> Option<usize> {
        meta.field_index(name).filter(|_| !self.hides(&meta.name, name))
    }
}
