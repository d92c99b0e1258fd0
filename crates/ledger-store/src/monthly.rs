//! What month close keeps: each partition's monthly projections (one value
//! per participant, period and revision), its summaries, and which periods
//! it has closed. Values are the protobuf bytes published to
//! `<topic>.monthly`, so the store and the topic hold the same bytes.
//!
//! | key | value |
//! | --- | --- |
//! | `R`, partition, period (`YYYY-MM`), IIN, revision (u32 BE) | `MonthlyProjection` |
//! | `S`, partition, period, revision (u32 BE) | `PartitionMonthSummary` |
//! | `Z`, partition, period | the summary's latest revision (u32 BE) and the marker's offset (u64 BE) |

use crate::{decode, key, AccountRecord, Kv, KvBatch, LedgerStore, StoreError, ACCOUNT, OFFSET};
use ledger_core::{Iin, Period};

pub(crate) const PROJECTION: u8 = b'R';
pub(crate) const SUMMARY: u8 = b'S';
pub(crate) const CLOSED: u8 = b'Z';

fn period_bytes(period: Period) -> Vec<u8> {
    period.to_string().into_bytes()
}

/// One stored projection: its partition, IIN, revision and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredProjection {
    pub partition: u32,
    pub iin: Iin,
    pub revision: u32,
    pub bytes: Vec<u8>,
}

impl<B: Kv> LedgerStore<B> {
    /// Up to `limit` account records of `partition` in IIN order, after
    /// `after` (from the first if `None`).
    pub fn accounts_after(
        &self,
        partition: u32,
        after: Option<&Iin>,
        limit: usize,
    ) -> Result<Vec<AccountRecord>, StoreError> {
        let prefix = key(ACCOUNT, partition, &[]);
        let from = match after {
            Some(iin) => {
                let mut k = key(ACCOUNT, partition, iin.as_bytes());
                k.push(0);
                k
            }
            None => prefix.clone(),
        };
        let mut out = Vec::with_capacity(limit.min(1 << 16));
        self.kv.for_each_from(&prefix, &from, &mut |k, v| {
            out.push(decode("account", k, v)?);
            Ok(out.len() < limit)
        })?;
        Ok(out)
    }

    /// Writes projections (partition, period, IIN, revision, bytes) in one
    /// atomic write. Rewriting one with the same key writes the same bytes:
    /// a month close interrupted by a crash is simply run again.
    pub fn put_projections(
        &self,
        items: &[(u32, Period, Iin, u32, Vec<u8>)],
    ) -> Result<(), StoreError> {
        let mut b = KvBatch::default();
        for (p, period, iin, rev, bytes) in items {
            let mut rest = period_bytes(*period);
            rest.extend_from_slice(iin.as_bytes());
            rest.extend_from_slice(&rev.to_be_bytes());
            b.put(key(PROJECTION, *p, &rest), bytes.clone());
        }
        self.kv.write(b)
    }

    /// The latest revision of a participant's projection of `period`.
    pub fn latest_projection(
        &self,
        partition: u32,
        period: Period,
        iin: &Iin,
    ) -> Result<Option<(u32, Vec<u8>)>, StoreError> {
        let mut rest = period_bytes(period);
        rest.extend_from_slice(iin.as_bytes());
        let prefix = key(PROJECTION, partition, &rest);
        let mut last = None;
        self.kv.for_each(&prefix, &mut |k, v| {
            let rev = k[prefix.len()..]
                .try_into()
                .map(u32::from_be_bytes)
                .unwrap_or(0);
            last = Some((rev, v.to_vec()));
            Ok(true)
        })?;
        Ok(last)
    }

    /// The latest revision of `partition`'s summary of `period`.
    pub fn latest_summary(
        &self,
        partition: u32,
        period: Period,
    ) -> Result<Option<(u32, Vec<u8>)>, StoreError> {
        let Some((rev, _)) = self.closed(partition, period)? else {
            return Ok(None);
        };
        let mut rest = period_bytes(period);
        rest.extend_from_slice(&rev.to_be_bytes());
        Ok(self
            .kv
            .get(&key(SUMMARY, partition, &rest))?
            .map(|b| (rev, b)))
    }

    /// Adds restatements to a batch write.
    pub(crate) fn put_restatements(&self, b: &mut KvBatch, w: &crate::WriteBatch) {
        for (p, period, iin, rev, bytes) in &w.projections {
            let mut rest = period_bytes(*period);
            rest.extend_from_slice(iin.as_bytes());
            rest.extend_from_slice(&rev.to_be_bytes());
            b.put(key(PROJECTION, *p, &rest), bytes.clone());
        }
        for (p, period, rev, marker, bytes) in &w.summaries {
            let mut rest = period_bytes(*period);
            rest.extend_from_slice(&rev.to_be_bytes());
            b.put(key(SUMMARY, *p, &rest), bytes.clone());
            let mut mark = rev.to_be_bytes().to_vec();
            mark.extend_from_slice(&marker.to_be_bytes());
            b.put(key(CLOSED, *p, &period_bytes(*period)), mark);
        }
    }

    /// Ends a month close (or restatement) of `partition`: its summary
    /// revision, the closed mark and the partition's next offset, at once.
    pub fn finish_close(
        &self,
        partition: u32,
        period: Period,
        revision: u32,
        marker_offset: u64,
        summary: Vec<u8>,
        next_offset: u64,
    ) -> Result<(), StoreError> {
        let mut b = KvBatch::default();
        let mut rest = period_bytes(period);
        rest.extend_from_slice(&revision.to_be_bytes());
        b.put(key(SUMMARY, partition, &rest), summary);
        let mut mark = revision.to_be_bytes().to_vec();
        mark.extend_from_slice(&marker_offset.to_be_bytes());
        b.put(key(CLOSED, partition, &period_bytes(period)), mark);
        b.put(
            key(OFFSET, partition, &[]),
            next_offset.to_be_bytes().to_vec(),
        );
        self.kv.write(b)
    }

    /// Whether `partition` has closed `period`: the summary's latest
    /// revision and the marker's offset.
    pub fn closed(&self, partition: u32, period: Period) -> Result<Option<(u32, u64)>, StoreError> {
        let k = key(CLOSED, partition, &period_bytes(period));
        Ok(self.kv.get(&k)?.and_then(|v| {
            let rev = u32::from_be_bytes(v.get(..4)?.try_into().ok()?);
            let off = u64::from_be_bytes(v.get(4..12)?.try_into().ok()?);
            Some((rev, off))
        }))
    }

    /// Every period `partition` has closed, in order, with its summary's
    /// latest revision.
    pub fn closed_periods(&self, partition: u32) -> Result<Vec<(Period, u32)>, StoreError> {
        let prefix = key(CLOSED, partition, &[]);
        let mut out = Vec::new();
        self.kv.for_each(&prefix, &mut |k, v| {
            let period = std::str::from_utf8(&k[prefix.len()..])
                .ok()
                .and_then(|s| Period::parse(s).ok())
                .ok_or_else(|| StoreError::Corrupt {
                    what: "closed-month key",
                    key: crate::printable_key(k),
                    reason: "no period".into(),
                })?;
            let rev = v
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .map_or(0, u32::from_be_bytes);
            out.push((period, rev));
            Ok(true)
        })?;
        Ok(out)
    }

    /// Every stored projection of `period`, every revision, by partition,
    /// IIN and revision.
    pub fn projections(&self, period: Period) -> Result<Vec<StoredProjection>, StoreError> {
        let partitions = self.meta()?.map_or(0, |m| m.partitions);
        let mut out = Vec::new();
        for p in 0..partitions {
            let prefix = key(PROJECTION, p, &period_bytes(period));
            self.kv.for_each(&prefix, &mut |k, v| {
                let rest = &k[prefix.len()..];
                let (iin, rev) = rest.split_at(12);
                let iin = std::str::from_utf8(iin)
                    .ok()
                    .and_then(|s| Iin::parse(s).ok())
                    .ok_or_else(|| StoreError::Corrupt {
                        what: "projection key",
                        key: format!("R/p{p}/{period}"),
                        reason: "no IIN".into(),
                    })?;
                let revision =
                    u32::from_be_bytes(rev.try_into().map_err(|_| StoreError::Corrupt {
                        what: "projection key",
                        key: format!("R/p{p}/{period}/{}", iin.masked()),
                        reason: "no revision".into(),
                    })?);
                out.push(StoredProjection {
                    partition: p,
                    iin,
                    revision,
                    bytes: v.to_vec(),
                });
                Ok(true)
            })?;
        }
        Ok(out)
    }

    /// Every summary revision of `period`: (partition, revision, bytes).
    pub fn summaries(&self, period: Period) -> Result<Vec<(u32, u32, Vec<u8>)>, StoreError> {
        let partitions = self.meta()?.map_or(0, |m| m.partitions);
        let mut out = Vec::new();
        for p in 0..partitions {
            let prefix = key(SUMMARY, p, &period_bytes(period));
            self.kv.for_each(&prefix, &mut |k, v| {
                let rev = k[prefix.len()..]
                    .try_into()
                    .map(u32::from_be_bytes)
                    .unwrap_or(0);
                out.push((p, rev, v.to_vec()));
                Ok(true)
            })?;
        }
        Ok(out)
    }
}
