//! MQTT sources of live layers (`[[live.sources]]`): one thread per source drives a `rumqttc`
//! client, subscribes on every connection acknowledgement (so a broker restart, or a session
//! the broker forgot, never leaves the source deaf), backs off from 100 ms doubling to 5 s while
//! the broker is unreachable, and hands every payload to the layer's ingest. Nothing a message
//! holds can stop the thread: bad payloads are counted by the ingest.
//!
//! Owns the broker connection only; payloads are `message.rs`, checks and rules `layer.rs`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

use super::section::SourceSection;
use super::Live;

const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Largest payload accepted (a device report is a few hundred bytes).
const MAX_PACKET: usize = 256 << 10;

/// The state of one source, for `/metrics` and tests.
#[derive(Debug, Default)]
pub struct SourceStatus {
    pub layer: String,
    pub broker: String,
    pub topic: String,
    pub connected: AtomicBool,
    /// Connection acknowledgements received (1 + reconnections).
    pub connections: AtomicU64,
    /// Subscription acknowledgements received.
    pub subscriptions: AtomicU64,
    pub messages: AtomicU64,
    /// Connection errors (each one is followed by a back-off and a reconnection).
    pub errors: AtomicU64,
}

/// `mqtt://host:port` (port 1883 when left out) as host and port.
pub fn parse_broker(url: &str) -> Result<(String, u16), String> {
    let rest = url
        .strip_prefix("mqtt://")
        .or_else(|| url.strip_prefix("tcp://"))
        .ok_or_else(|| format!("broker = \"{url}\" is not mqtt://host:port (TLS brokers are not supported yet)"))?;
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => (
            host,
            port.parse::<u16>()
                .map_err(|_| format!("broker = \"{url}\": '{port}' is not a port"))?,
        ),
        None => (rest, 1883),
    };
    if host.is_empty() {
        return Err(format!("broker = \"{url}\" names no host"));
    }
    Ok((host.trim_matches(['[', ']']).to_string(), port))
}

/// The device a topic names: the level matching the filter's first `+` (`vms/+/position`).
pub fn device_in_topic<'t>(filter: &str, topic: &'t str) -> Option<&'t str> {
    let at = filter.split('/').position(|level| level == "+")?;
    topic.split('/').nth(at)
}

/// Starts the source's thread; it ends when `stop` is set (checked every second) or `live` is gone.
pub fn spawn(live: Weak<Live>, layer: String, section: &SourceSection, stop: Arc<AtomicBool>) -> Result<Arc<SourceStatus>, String> {
    let (host, port) = parse_broker(&section.broker)?;
    if section.topic.is_empty() || section.topic.contains('#') && !section.topic.ends_with('#') {
        return Err(format!("topic = \"{}\" is not an MQTT topic filter", section.topic));
    }
    let status = Arc::new(SourceStatus {
        layer: layer.clone(),
        broker: section.broker.clone(),
        topic: section.topic.clone(),
        ..SourceStatus::default()
    });
    let client_id = section
        .client_id
        .clone()
        .unwrap_or_else(|| format!("bando-{layer}-{}", std::process::id()));
    let mut options = MqttOptions::new(client_id, host, port);
    options
        .set_keep_alive(Duration::from_secs(15))
        .set_clean_session(true)
        .set_max_packet_size(MAX_PACKET, MAX_PACKET);
    let topic = section.topic.clone();
    let shared = status.clone();
    std::thread::Builder::new()
        .name(format!("bando-mqtt-{layer}"))
        .spawn(move || run(live, &layer, options, &topic, &shared, &stop))
        .map_err(|e| format!("cannot start the MQTT thread: {e}"))?;
    Ok(status)
}

fn run(live: Weak<Live>, layer: &str, options: MqttOptions, topic: &str, status: &SourceStatus, stop: &AtomicBool) {
    let (client, mut connection) = Client::new(options, 64);
    let mut backoff = BACKOFF_START;
    while !stop.load(Ordering::Relaxed) {
        let event = match connection.recv_timeout(Duration::from_secs(1)) {
            Err(rumqttc::RecvTimeoutError::Timeout) => continue,
            Err(rumqttc::RecvTimeoutError::Disconnected) => return,
            Ok(event) => event,
        };
        match event {
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                let Some(live) = live.upgrade() else { return };
                status.messages.fetch_add(1, Ordering::Relaxed);
                live.ingest_payload(layer, &publish.payload, device_in_topic(topic, &publish.topic));
            }
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                status.connected.store(true, Ordering::Relaxed);
                let n = status.connections.fetch_add(1, Ordering::Relaxed) + 1;
                backoff = BACKOFF_START;
                tracing::info!(layer, topic, connections = n, "MQTT source connected; subscribing");
                if let Err(e) = client.try_subscribe(topic, QoS::AtLeastOnce) {
                    tracing::warn!(layer, error = %e, "MQTT subscription not sent; retried on the next connection");
                }
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                status.subscriptions.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) => {}
            Err(e) => {
                let was = status.connected.swap(false, Ordering::Relaxed);
                let n = status.errors.fetch_add(1, Ordering::Relaxed) + 1;
                if was || n.is_power_of_two() {
                    tracing::warn!(layer, error = %e, retry_ms = backoff.as_millis() as u64, "MQTT broker unreachable; reconnecting");
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
    let _ = client.try_disconnect();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brokers_and_topics_parse() {
        assert_eq!(parse_broker("mqtt://127.0.0.1:18483").unwrap(), ("127.0.0.1".into(), 18483));
        assert_eq!(parse_broker("mqtt://broker").unwrap(), ("broker".into(), 1883));
        assert!(parse_broker("mqtts://x:8883").unwrap_err().contains("TLS"));
        assert!(parse_broker("mqtt://x:port").unwrap_err().contains("not a port"));
        assert_eq!(device_in_topic("vms/+/position", "vms/TTH-1/position"), Some("TTH-1"));
        assert_eq!(device_in_topic("vms/#", "vms/TTH-1/position"), None);
    }
}
