//! The request's [`View`] as an extractor: made from the `Identity` the edge put in the request
//! (`auth::admit`), or the open view when no policy is in force. Handlers take it like any other
//! argument and hand it to the core, which decides what it hides; nothing here decides.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::AppState;
use crate::policy::{Identity, View};

impl FromRequestParts<AppState> for View {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<View, Infallible> {
        Ok(state.security.view(parts.extensions.get::<Identity>()))
    }
}
