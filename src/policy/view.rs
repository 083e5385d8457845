//! What one request may see: the [`View`] of its identity, made once per request (a clone of the
//! role's `Arc`, no allocation) and handed to every route. A layer or scenario outside the view
//! does not exist for the request; a hidden field never leaves the server.
//!
//! Owns the rules "may this name be read" and "which fields of this layer are carried", and the
//! digest caches key on. Without a policy in force the view is open: everything is visible, as
//! on a server without `[security]`. Knows no HTTP and nothing of tiles or queries; those ask it.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use super::aggregate::{Aggregate, AggregateMemo, Recipe};
use super::area::{Area, AreaMemo};
use super::{Identity, Role};
use crate::feature::FieldType;
use crate::index::{Catalog, LayerData, Members};
use crate::scenarios::{BoundFilter, Scenario, ScenarioError, Scenarios};
use crate::store::LayerMeta;

/// What a request may see.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// `None`: no policy in force, everything is visible.
    role: Option<Arc<Role>>,
    /// The units a scoped role is limited to (its identity's scope).
    area: Option<Area>,
    /// The figures layers of aggregate-only layers, shared by every view.
    figures: Arc<AggregateMemo>,
}

impl View {
    /// The view of a server without a policy: everything.
    pub fn open() -> View {
        View::default()
    }

    /// The view of an identified request; `None` (no policy in force) is the open view. A
    /// scoped role sees the units of the identity's scope (none without one), its member sets
    /// kept in `areas`; figures of aggregate-only layers are kept in `figures`.
    pub fn of(identity: Option<&Identity>, areas: &Arc<AreaMemo>, figures: &Arc<AggregateMemo>) -> View {
        let Some(identity) = identity else { return View::open() };
        View {
            role: Some(identity.role.clone()),
            area: identity.role.scoped.then(|| Area::new(identity.scope(), areas.clone())),
            figures: figures.clone(),
        }
    }

    /// The view of `role` limited to the units `scope` when it is scoped, with memos of its
    /// own: what a command line sees (`export pmtiles --role`).
    pub fn of_role(role: Arc<Role>, scope: &[String]) -> View {
        View {
            area: role.scoped.then(|| Area::new(scope, Arc::default())),
            role: Some(role),
            figures: Arc::default(),
        }
    }

    /// The units a scoped view is limited to; `None` when it is not scoped.
    pub fn area(&self) -> Option<&Area> {
        self.area.as_ref()
    }

    /// The features of `layer` (as [`View::layer`] gives it) this view may see, when it is
    /// limited to an area (`None`: all). A figures layer's units are all shown: its counts
    /// already hold only the area's features.
    pub fn members(&self, catalog: &Catalog, layer: &LayerData) -> Option<Arc<Members>> {
        match self.aggregate(&layer.meta.name) {
            Some(_) => None,
            None => self.area_members(catalog, layer),
        }
    }

    /// The features of the store's `layer` inside this view's area (`None`: not limited), what
    /// statistics count and figures are made of.
    pub fn area_members(&self, catalog: &Catalog, layer: &LayerData) -> Option<Arc<Members>> {
        self.area.as_ref().map(|a| a.members(catalog, layer))
    }

    /// How this view gets layer `name` only as figures per unit, if it does.
    pub fn aggregate(&self, name: &str) -> Option<Aggregate<'_>> {
        let role = self.role.as_ref()?;
        role.aggregate.get(name).map(|units| Aggregate {
            units,
            min_count: role.min_count,
        })
    }

    /// The layer `name` as this request sees it (`None` outside the view): the store's layer,
    /// or for an aggregate-only one its figures per unit (with every numeric field it may see
    /// summed).
    pub fn layer(&self, catalog: &Catalog, name: &str) -> Option<Arc<LayerData>> {
        let data = catalog.get(name).filter(|_| self.may_read(name))?;
        match self.aggregate(name) {
            None => Some(data),
            Some(_) => self.figures(catalog, &data, None, &self.fields(&data.meta)),
        }
    }

    /// Every layer this request sees, by name, as [`View::layer`] gives each.
    pub fn layers(&self, catalog: &Catalog) -> Vec<Arc<LayerData>> {
        catalog.snapshot().keys().filter_map(|name| self.layer(catalog, name)).collect()
    }

    /// The figures per unit of `data`'s features that `filter` accepts (with the text naming
    /// it), summing the numeric fields among `carried`; `None` when `data` is not aggregated
    /// for this view or its unit layer is gone.
    pub fn figures(
        &self,
        catalog: &Catalog,
        data: &LayerData,
        filter: Option<(&str, &BoundFilter)>,
        carried: &[usize],
    ) -> Option<Arc<LayerData>> {
        let aggregate = self.aggregate(&data.meta.name)?;
        let units = catalog.get(aggregate.units)?;
        let numeric = |f: &usize| matches!(data.meta.fields[*f].ty, FieldType::Int | FieldType::Float);
        let recipe = Recipe {
            data,
            filter,
            min_count: aggregate.min_count,
            sums: carried
                .iter()
                .copied()
                .filter(numeric)
                .filter(|&f| !self.hides(&data.meta, &data.meta.fields[f].name))
                .collect(),
            labels: ["code", "name"].iter().filter_map(|f| self.field_index(&units.meta, f)).collect(),
            units,
            members: self.area_members(catalog, data),
            area: self.area.as_ref().map_or(0, Area::key),
        };
        self.figures.figures(catalog, &recipe)
    }

    pub fn is_open(&self) -> bool {
        self.role.is_none()
    }

    /// Whether the layer or scenario `name` exists for this request.
    pub fn may_read(&self, name: &str) -> bool {
        self.role.as_ref().is_none_or(|r| r.layers.allows(name))
    }

    /// Whether field `field` of `meta` is withheld from this request: a hidden field of its
    /// role, or a personal one when the role may not read personal data.
    pub fn hides(&self, meta: &LayerMeta, field: &str) -> bool {
        let Some(role) = &self.role else { return false };
        let personal = || !role.personal_data && meta.fields.iter().any(|f| f.personal && f.name == field);
        role.hidden_fields.get(&meta.name).is_some_and(|hidden| hidden.contains(field)) || personal()
    }

    /// The index of field `name` of `meta`, if it exists and is not hidden: a hidden field is
    /// answered like an unknown one, so asking for it tells nothing.
    pub fn field_index(&self, meta: &LayerMeta, name: &str) -> Option<usize> {
        meta.field_index(name).filter(|_| !self.hides(meta, name))
    }

    /// Whether this request sees every field of `meta`.
    pub fn sees_all_fields(&self, meta: &LayerMeta) -> bool {
        self.role
            .as_ref()
            .is_none_or(|r| !r.hidden_fields.contains_key(&meta.name) && (r.personal_data || !meta.fields.iter().any(|f| f.personal)))
    }

    /// Indices of the fields of `meta` this request sees, in the layer's order.
    pub fn fields(&self, meta: &LayerMeta) -> Vec<usize> {
        (0..meta.fields.len())
            .filter(|&i| !self.hides(meta, &meta.fields[i].name))
            .collect()
    }

    /// `meta` as this request may see it: hidden fields left out.
    pub fn meta(&self, meta: &LayerMeta) -> LayerMeta {
        let mut seen = meta.clone();
        seen.fields.retain(|f| !self.hides(meta, &f.name));
        seen
    }

    /// The scenario `id`, if it exists for this request (else not found, like an unknown id).
    pub fn scenario<'a>(&self, scenarios: &'a Scenarios, id: &str) -> Result<&'a Scenario, ScenarioError> {
        match scenarios.get(id) {
            Ok(s) if self.may_read(&s.id) => Ok(s),
            _ => Err(ScenarioError::NotFound(id.to_string())),
        }
    }

    /// `scenario` as this request may see it: layers, indicators and the 3D view of layers
    /// outside the view left out, hidden fields (of the layers in `catalog`) out of its field
    /// lists.
    pub fn scenario_shown(&self, scenario: &Scenario, catalog: &Catalog) -> Scenario {
        let mut shown = scenario.clone();
        shown.layers.retain(|l| self.may_read(&l.layer));
        let hidden = |layer: &str, field: &str| catalog.get(layer).is_some_and(|l| self.hides(&l.meta, field));
        for layer in &mut shown.layers {
            let name = layer.layer.clone();
            let keep = |field: &String| !hidden(&name, field);
            if let Some(fields) = &mut layer.fields {
                fields.retain(keep);
            }
            layer.zoom_fields.iter_mut().for_each(|zf| zf.fields.retain(keep));
        }
        let readable = |i: &crate::scenarios::Indicator| {
            self.may_read(&i.layer) && self.may_read(&i.by) && i.field.as_ref().is_none_or(|f| !hidden(&i.layer, f))
        };
        shown.indicators.retain(readable);
        // A layer given only as figures has no buildings to draw in 3D.
        shown.three_d = shown
            .three_d
            .filter(|t| self.may_read(&t.layer) && self.aggregate(&t.layer).is_none());
        shown
    }

    /// A digest of what the view shows (0 for the open view): two views with the same digest see
    /// the same layers, fields and area, so memos of resolved names may be shared between them.
    /// It names the role's rules and the scope's units, never the user.
    pub fn digest(&self) -> u64 {
        let role = self.role.as_ref().map_or(0, |r| r.digest);
        self.area.as_ref().map_or(role, |a| role ^ a.key().rotate_left(29))
    }
}

/// The digest of a role's rules (not its name: two roles with the same rules see the same).
pub(super) fn role_digest(role: &Role) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (
        &role.layers,
        &role.hidden_fields,
        &role.aggregate,
        role.min_count,
        role.personal_data,
        role.scoped,
    )
        .hash(&mut hasher);
    // 0 is the open view's.
    hasher.finish().max(1)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::feature::{FieldDef, FieldType, GeometryKind, LayerKind};
    use crate::policy::LayerGrant;

    fn role(layers: LayerGrant, hidden: &[(&str, &str)]) -> Arc<Role> {
        let mut hidden_fields: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (layer, field) in hidden {
            hidden_fields.entry(layer.to_string()).or_default().insert(field.to_string());
        }
        let mut role = Role {
            name: "r".into(),
            layers,
            hidden_fields,
            aggregate: BTreeMap::new(),
            min_count: 5,
            personal_data: false,
            scoped: false,
            admin: false,
            digest: 0,
        };
        role.digest = role_digest(&role);
        Arc::new(role)
    }

    fn parcels() -> LayerMeta {
        let field = |name: &str| FieldDef::new(name, FieldType::Text);
        LayerMeta::new(
            "parcels",
            LayerKind::Cadastral,
            GeometryKind::Polygon,
            vec![field("parcel_no"), field("address")],
        )
    }

    #[test]
    fn the_open_view_sees_everything() {
        let view = View::open();
        assert!(view.may_read("anything") && !view.hides(&parcels(), "address"));
        assert_eq!(view.fields(&parcels()), vec![0, 1]);
        assert_eq!(view.digest(), 0);
    }

    #[test]
    fn a_role_sees_its_layers_without_its_hidden_fields() {
        let named = LayerGrant::Named(["parcels".to_string()].into());
        let view = View::of_role(role(named, &[("parcels", "address")]), &[]);
        assert!(view.may_read("parcels") && !view.may_read("housing"));
        assert_eq!(view.fields(&parcels()), vec![0]);
        assert_eq!(view.meta(&parcels()).fields.len(), 1);
        assert!(!view.sees_all_fields(&parcels()));
        let everything = View::of_role(role(LayerGrant::All, &[]), &[]);
        assert!(everything.sees_all_fields(&parcels()) && everything.may_read("housing"));
        assert_ne!(view.digest(), everything.digest());
        assert_ne!(everything.digest(), 0);
    }
}
