//! `bando store copy`: every layer, the catalog and history, the tokens and the audit log of one
//! store written into another (GeoPackage to PostGIS and back, or any pair), read from one
//! snapshot of the source, and verified at the end by the checksums of [`super::digest`] read
//! back from the target. `backup` and `restore` ([`super::backup`]) are copies too.
//!
//! Owns the order of a copy and its verification. Knows no backend: it goes through
//! [`Store::snapshot`], [`Store::begin_layer`] and [`LayerWriter::commit_copied`] only.

use super::digest::{self, Entry, LayerDigest};
use super::{LayerMeta, NewLayer, Store, StoreError, StoreSnapshot, TokenRecord};
use crate::audit::AuditRow;

/// What can stop a copy.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the source and the target are the same store ({0}); name two different stores")]
    SameStore(String),
    #[error("{target} already has the layer(s) {layers}; pass --replace to swap each in (one transaction per layer), or copy into an empty store")]
    TargetHasLayers { target: String, layers: String },
    #[error("the copy in {target} does not match its source ({}); the target holds what was written, copy again or restore the target from a backup", .differences.join("; "))]
    Mismatch { target: String, differences: Vec<String> },
}

/// How the target's own contents are treated.
#[derive(Debug, Clone, Copy, Default)]
pub struct CopyOptions {
    /// Swap in layers the target already has (each in one transaction) instead of refusing.
    pub replace: bool,
}

/// What happened to the audit log.
#[derive(Debug, Clone, PartialEq)]
pub enum AuditCopy {
    /// The target's log was empty: it now holds the source's rows, chain intact.
    Carried(u64),
    /// The target has a chain of its own, which cannot take the source's rows; it was kept.
    Kept { source_rows: u64 },
}

/// What a verified copy wrote.
#[derive(Debug)]
pub struct CopyReport {
    /// The layers as the target's catalog now has them.
    pub layers: Vec<LayerMeta>,
    /// The source's checksums: every layer's, the tokens', the audit chain's.
    pub manifest: Vec<Entry>,
    pub tokens: usize,
    pub audit: AuditCopy,
}

/// Copies everything `from` holds into `to` and verifies it.
pub fn copy(from: &dyn Store, to: &dyn Store, options: CopyOptions) -> Result<CopyReport, CopyError> {
    if from.describe() == to.describe() {
        return Err(CopyError::SameStore(from.describe()));
    }
    let mut source = from.snapshot()?;
    copy_snapshot(source.as_mut(), to, options)
}

/// Copies what one snapshot holds into `to` and verifies it (also the restore of a backup).
pub fn copy_snapshot(source: &mut dyn StoreSnapshot, to: &dyn Store, options: CopyOptions) -> Result<CopyReport, CopyError> {
    let layers = source.layers()?;
    if !options.replace {
        refuse_existing(to, &layers)?;
    }
    let mut manifest = Vec::new();
    let mut written = Vec::new();
    for meta in &layers {
        let (entries, committed) = copy_layer(source, to, meta, options.replace)?;
        manifest.extend(entries);
        written.push(committed);
    }
    let tokens = source.tokens()?;
    manifest.push(digest::tokens(&tokens));
    to.restore_tokens(&tokens)?;
    let rows = source.audit_rows()?;
    manifest.push(digest::audit(&rows));
    let audit = if to.restore_audit(&rows)? {
        AuditCopy::Carried(rows.len() as u64)
    } else {
        AuditCopy::Kept {
            source_rows: rows.len() as u64,
        }
    };
    verify(to, &manifest, &layers, &tokens, &rows, &audit)?;
    Ok(CopyReport {
        layers: written,
        manifest,
        tokens: tokens.len(),
        audit,
    })
}

/// Without `--replace`, a target that has any of the layers is refused before anything is written.
fn refuse_existing(to: &dyn Store, layers: &[LayerMeta]) -> Result<(), CopyError> {
    let present = to.layers()?;
    let clashing: Vec<&str> = layers
        .iter()
        .filter(|l| present.iter().any(|p| p.name == l.name))
        .map(|l| l.name.as_str())
        .collect();
    if clashing.is_empty() {
        Ok(())
    } else {
        Err(CopyError::TargetHasLayers {
            target: to.describe(),
            layers: clashing.join(", "),
        })
    }
}

/// One layer, in one transaction of the target, with the checksums of what was read.
fn copy_layer(
    source: &mut dyn StoreSnapshot,
    to: &dyn Store,
    meta: &LayerMeta,
    replace: bool,
) -> Result<([Entry; 3], LayerMeta), StoreError> {
    let history = source.history(&meta.name)?;
    let mut digest = LayerDigest::new(meta, &history);
    let mut writer = to.begin_layer(NewLayer {
        name: meta.name.clone(),
        kind: meta.kind,
        fields: meta.fields.clone(),
        replace,
    })?;
    let mut failed = None;
    source.for_each_feature(meta, &mut |f| {
        digest.add(&f);
        if failed.is_none() {
            failed = writer.write_with_id(f.id, &f.geometry, &f.properties).err();
        }
    })?;
    if let Some(e) = failed {
        // Dropping the writer rolls the layer back: the target keeps what it had.
        return Err(e);
    }
    let committed = writer.commit_copied(history)?;
    Ok((digest.finish(), committed))
}

/// Reads the target back in a snapshot of its own and compares: every layer's checksums, every
/// source token present (same hash, role, scope, times; revoked where the source had it
/// revoked), and the audit chain when it was carried.
fn verify(
    to: &dyn Store,
    manifest: &[Entry],
    layers: &[LayerMeta],
    tokens: &[TokenRecord],
    rows: &[AuditRow],
    audit: &AuditCopy,
) -> Result<(), CopyError> {
    let mut target = to.snapshot()?;
    let present = target.layers()?;
    let mut found = Vec::new();
    for meta in layers {
        if let Some(p) = present.iter().find(|p| p.name == meta.name) {
            found.extend(digest::layer(target.as_mut(), p)?);
        }
    }
    let layer_items: Vec<Entry> = manifest.iter().filter(|e| e.item.starts_with("layer/")).cloned().collect();
    let mut differences = digest::differences(&layer_items, &found);
    let held = target.tokens()?;
    for t in tokens {
        if !held.iter().any(|h| token_carried(t, h)) {
            differences.push(format!("token {} (role {}): missing or changed", t.id, t.role));
        }
    }
    if let AuditCopy::Carried(_) = audit {
        let copied = target.audit_rows()?;
        let same = digest::audit(&copied) == digest::audit(rows);
        if !same || crate::audit::verify(copied).is_err() {
            differences.push("audit: the chain differs from the source's".into());
        }
    }
    if differences.is_empty() {
        Ok(())
    } else {
        Err(CopyError::Mismatch {
            target: to.describe(),
            differences,
        })
    }
}

/// Whether `held` is `source` carried over: the same token, revoked at the latest when the
/// source revoked it (a target may have revoked it earlier, or since).
fn token_carried(source: &TokenRecord, held: &TokenRecord) -> bool {
    let same = source.hash == held.hash
        && source.role == held.role
        && source.scope == held.scope
        && source.created_unix == held.created_unix
        && source.expires_unix == held.expires_unix
        && source.note == held.note;
    let revoked = match (source.revoked_unix, held.revoked_unix) {
        (Some(s), Some(h)) => h <= s,
        (Some(_), None) => false,
        (None, _) => true,
    };
    same && revoked
}

impl std::fmt::Display for CopyReport {
    /// One line per layer, then the tokens and the audit log: what a command prints.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for l in &self.layers {
            writeln!(
                f,
                "layer {}: {} features, geometry and attributes verified",
                l.name, l.feature_count
            )?;
        }
        writeln!(f, "tokens: {} carried", self.tokens)?;
        match &self.audit {
            AuditCopy::Carried(n) => write!(f, "audit log: {n} rows carried, chain verified"),
            AuditCopy::Kept { source_rows } => write!(
                f,
                "audit log: the target has a chain of its own and kept it ({source_rows} source rows not carried)"
            ),
        }
    }
}
