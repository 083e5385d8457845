//! The PostGIS store's change feed: `LISTEN bando_layers` on a connection of its own, which
//! every layer commit notifies with the layer's name. A replica waits on it so that an import
//! made anywhere is picked up at once instead of at the next poll.
//!
//! Owns only that connection; knows nothing of catalogs or servers. A lost connection is
//! reported as an error, never hidden: the caller reconnects and compares the generation.

use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use postgres::Client;

use super::postgis::NOTIFY_CHANNEL;
use super::{ChangeFeed, StoreError};

/// How long a liveness check of an idle feed may take before the connection counts as lost.
const LIVENESS_TIMEOUT: Duration = Duration::from_secs(2);

pub struct PgChangeFeed {
    client: Client,
}

impl PgChangeFeed {
    /// Starts listening on a freshly opened connection.
    pub fn listen(mut client: Client) -> Result<PgChangeFeed, StoreError> {
        client.batch_execute(&format!("LISTEN {NOTIFY_CHANNEL}"))?;
        Ok(PgChangeFeed { client })
    }

    fn lost() -> StoreError {
        StoreError::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "the PostgreSQL connection of the change feed closed",
        ))
    }
}

impl ChangeFeed for PgChangeFeed {
    fn wait(&mut self, timeout: Duration) -> Result<Vec<String>, StoreError> {
        let mut layers = Vec::new();
        {
            let mut notifications = self.client.notifications();
            let mut arrived = notifications.timeout_iter(timeout);
            while let Some(notification) = arrived.next()? {
                layers.push(notification.payload().to_string());
                // Take what came together with the first one, without waiting again.
                if arrived.size_hint().0 == 0 {
                    break;
                }
            }
        }
        if self.client.is_closed() {
            return Err(Self::lost());
        }
        if layers.is_empty() {
            // Quiet: make sure it is not because the server went away without a word.
            self.client.is_valid(LIVENESS_TIMEOUT)?;
        }
        Ok(layers)
    }
}
