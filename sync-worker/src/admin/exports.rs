//! CSV exports: `GET /v1/admin/exports/{name}.csv?from=&to=` and `tollgate export NAME`.
//!
//! Rows are streamed from the database (`fetch`) into CSV (RFC 4180, a header row) and handed
//! on in chunks of about [`CHUNK_BYTES`], so neither the service nor the command holds a whole
//! table: memory stays flat however large the export. A chunk waits until the reader took the
//! previous ones (the HTTP body's channel is bounded), so a slow client slows the query down
//! instead of filling memory.

use super::{AdminError, instant};
use crate::db::{self, ExportRows};
use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use sqlx::{PgPool, Row as _};
use std::future::Future;

/// About how many bytes of CSV are handed on at once.
pub(crate) const CHUNK_BYTES: usize = 64 * 1024;

/// What can be exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Export {
    /// Polar customers: external id, Polar id, e-mail, name, created, deleted.
    Customers,
    /// Subscriptions with their customer, product, status, amount and period.
    Subscriptions,
    /// Orders (invoices): amounts, tax, currency, refunded amount.
    Orders,
    /// Metered counters per customer, feature and period.
    Usage,
    /// The audit log.
    Audit,
}

impl Export {
    /// The export a file name such as `orders.csv` names.
    pub(crate) fn from_file_name(name: &str) -> Option<Self> {
        Some(match name.strip_suffix(".csv")? {
            "customers" => Export::Customers,
            "subscriptions" => Export::Subscriptions,
            "orders" => Export::Orders,
            "usage" => Export::Usage,
            "audit" => Export::Audit,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Export::Customers => "customers",
            Export::Subscriptions => "subscriptions",
            Export::Orders => "orders",
            Export::Usage => "usage",
            Export::Audit => "audit",
        }
    }

    /// The header row.
    pub(crate) fn columns(self) -> &'static [&'static str] {
        match self {
            Export::Customers => db::customers::EXPORT_COLUMNS,
            Export::Subscriptions => db::subscriptions::EXPORT_COLUMNS,
            Export::Orders => db::orders::EXPORT_COLUMNS,
            Export::Usage => db::usage_counters::EXPORT_COLUMNS,
            Export::Audit => db::audit::EXPORT_COLUMNS,
        }
    }

    fn rows(self, pool: &PgPool, range: Range) -> ExportRows<'_> {
        let Range { from, to } = range;
        match self {
            Export::Customers => db::customers::export(pool, from, to),
            Export::Subscriptions => db::subscriptions::export(pool, from, to),
            Export::Orders => db::orders::export(pool, from, to),
            Export::Usage => db::usage_counters::export(pool, from, to),
            Export::Audit => db::audit::export(pool, from, to),
        }
    }
}

/// `[from, to)`; either end may be open. What it bounds depends on the export: creation for
/// customers, subscriptions and orders, the period's start for usage, the time for audit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Range {
    pub(crate) from: Option<DateTime<Utc>>,
    pub(crate) to: Option<DateTime<Utc>>,
}

impl Range {
    /// Reads `from` and `to`: a date (`2026-12-01`, midnight UTC) or an RFC 3339 instant.
    pub(crate) fn parse(from: Option<&str>, to: Option<&str>) -> Result<Self, AdminError> {
        let from = from.map(|text| instant("from", text)).transpose()?;
        let to = to.map(|text| instant("to", text)).transpose()?;
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            return Err(AdminError::refused(
                422,
                "invalid_range",
                format!("`from` ({from}) is after `to` ({to})"),
            ));
        }
        Ok(Range { from, to })
    }
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ExportError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("writing CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("writing CSV: {0}")]
    Io(#[from] std::io::Error),
}

/// Streams `export` over `range` as CSV into `chunk` (bytes, rows so far). `chunk` answers
/// `false` when the reader has gone; the export then stops. Returns the number of rows.
pub(crate) async fn write<F, Fut>(
    pool: &PgPool,
    export: Export,
    range: Range,
    mut chunk: F,
) -> Result<u64, ExportError>
where
    F: FnMut(Vec<u8>, u64) -> Fut,
    Fut: Future<Output = bool>,
{
    let buffer = Buffer::default();
    let mut csv = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(buffer.clone());
    csv.write_record(export.columns())?;
    let width = export.columns().len();
    let mut rows = export.rows(pool, range);
    let mut count = 0u64;
    let mut fields: Vec<String> = Vec::with_capacity(width);
    while let Some(row) = rows.next().await {
        let row = row?;
        fields.clear();
        for i in 0..width {
            fields.push(row.try_get::<Option<String>, _>(i)?.unwrap_or_default());
        }
        csv.write_record(&fields)?;
        count += 1;
        if buffer.len() >= CHUNK_BYTES {
            csv.flush()?;
            if !chunk(buffer.take(), count).await {
                return Ok(count);
            }
        }
    }
    csv.flush()?;
    chunk(buffer.take(), count).await;
    Ok(count)
}

/// The bytes the CSV writer has written and not yet handed on. The writer keeps its own small
/// buffer too, so `len` runs a little behind until it is flushed.
#[derive(Debug, Clone, Default)]
struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Buffer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    fn take(&self) -> Vec<u8> {
        std::mem::replace(&mut *self.lock(), Vec::with_capacity(CHUNK_BYTES + 4096))
    }
}

impl std::io::Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.lock().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
