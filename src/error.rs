//! The library's error: every module's error folded into one enum, and a classification of each
//! into what went wrong from the caller's point of view. The HTTP layer maps [`ErrorKind`] to a
//! status in exactly one place (`server::error`); the CLI prints the message.

use crate::city3d::City3dError;
use crate::config::ConfigError;
use crate::crs::CrsError;
use crate::import::ImportError;
use crate::live::LiveError;
use crate::ogc::OgcError;
use crate::policy::tokens::TokenError;
use crate::policy::AuthError;
use crate::query::QueryError;
use crate::render::RenderError;
use crate::scenarios::ScenarioError;
use crate::store::StoreError;
use crate::tiles::TileError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Crs(#[from] CrsError),
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    City3d(#[from] City3dError),
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error(transparent)]
    Tile(#[from] TileError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Ogc(#[from] OgcError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Live(#[from] LiveError),
    /// A request or argument that cannot be served as given; the message says how to fix it.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Internal(String),
}

/// What kind of failure an error is, independent of any protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    /// No valid credential: the caller must authenticate (again).
    Unauthorized,
    /// Over the rate limit: the caller must slow down.
    TooManyRequests,
    NotFound,
    Conflict,
    TooLarge,
    Unavailable,
    Internal,
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::BadRequest(_) | Error::Crs(_) => ErrorKind::BadRequest,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::TooLarge(_) => ErrorKind::TooLarge,
            Error::Internal(_) => ErrorKind::Internal,
            Error::Config(_) | Error::Token(_) => ErrorKind::BadRequest,
            Error::Auth(AuthError::TooManyRequests { .. }) => ErrorKind::TooManyRequests,
            Error::Auth(_) => ErrorKind::Unauthorized,
            Error::Ogc(e) if e.is_not_found() => ErrorKind::NotFound,
            Error::Ogc(_) => ErrorKind::BadRequest,
            Error::Scenario(ScenarioError::NotFound(_)) => ErrorKind::NotFound,
            Error::Scenario(_) => ErrorKind::BadRequest,
            Error::City3d(e) => match e {
                City3dError::NoSuchTile(_) => ErrorKind::NotFound,
                City3dError::Write { .. } => ErrorKind::Internal,
                _ => ErrorKind::BadRequest,
            },
            Error::Query(e) => match e {
                QueryError::UnknownLayer(_) | QueryError::UnknownUnit { .. } => ErrorKind::NotFound,
                QueryError::TooManyVertices { .. } | QueryError::TooComplex { .. } => ErrorKind::TooLarge,
                _ => ErrorKind::BadRequest,
            },
            Error::Tile(e) => match e {
                TileError::UnknownLayer(_) => ErrorKind::NotFound,
                TileError::BadScenario { .. } => ErrorKind::Conflict,
                TileError::NoStyle(_) | TileError::UnknownFont(_) => ErrorKind::NotFound,
                TileError::BadFont { .. } | TileError::Io { .. } => ErrorKind::Internal,
                TileError::BadArchive { .. } => ErrorKind::Unavailable,
                TileError::BadStyle { .. } => ErrorKind::Internal,
                TileError::BadTile(_) | TileError::TooManyLayers(_) | TileError::BadLayerList(_) | TileError::BadGlyphs(_) => {
                    ErrorKind::BadRequest
                }
            },
            Error::Render(e) => match e {
                RenderError::BadPicture(_) | RenderError::TooLarge(_) => ErrorKind::BadRequest,
                RenderError::BadExpression(_)
                | RenderError::BadStyle { .. }
                | RenderError::StyleFile { .. }
                | RenderError::Encode { .. }
                | RenderError::NoFont(_)
                | RenderError::Pdf { .. } => ErrorKind::Internal,
            },
            Error::Store(e) => match e {
                StoreError::NoSuchLayer(_) | StoreError::NoSuchToken(_) => ErrorKind::NotFound,
                StoreError::LayerExists(_) => ErrorKind::Conflict,
                StoreError::BadLayerName(_) | StoreError::Unsupported(_) => ErrorKind::BadRequest,
                StoreError::ReadOnly { .. }
                | StoreError::Corrupt { .. }
                | StoreError::Unreachable { .. }
                | StoreError::WrongLogin { .. }
                | StoreError::NoPostgis { .. }
                | StoreError::Busy { .. } => ErrorKind::Unavailable,
                _ => ErrorKind::Internal,
            },
            Error::Live(e) => match e {
                LiveError::UnknownLayer(_) | LiveError::NoSuchAlert(_) => ErrorKind::NotFound,
                LiveError::AlertClosed(_) => ErrorKind::Conflict,
                LiveError::NeedsToken(_) => ErrorKind::Unauthorized,
                LiveError::Store(_) => ErrorKind::Unavailable,
                _ => ErrorKind::BadRequest,
            },
            Error::Import(e) => match e {
                ImportError::Store(StoreError::LayerExists(_)) => ErrorKind::Conflict,
                ImportError::Store(_) | ImportError::Io { .. } => ErrorKind::Internal,
                _ => ErrorKind::BadRequest,
            },
        }
    }

    pub fn bad_request(msg: impl Into<String>) -> Error {
        Error::BadRequest(msg.into())
    }

    pub fn not_found(msg: impl Into<String>) -> Error {
        Error::NotFound(msg.into())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
