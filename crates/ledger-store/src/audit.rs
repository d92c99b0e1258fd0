//! Recomputing every hash chain of a store from what it holds, and naming
//! each place where a stored link does not follow.

use crate::chain::{self, ChainHead, Link, GENESIS};
use crate::tlog;
use crate::{
    decode, decode_segment, key, printable_key, AccountRecord, DeadLetter, HistoryEntry, Kv,
    LedgerStore, StoreError, ACCOUNT, DEAD, HISTORY,
};
use ledger_core::Iin;
use std::collections::HashMap;

/// A place where the store is not what its chains say it was.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Break {
    pub partition: u32,
    /// The log offset of the first item that does not follow, when one does.
    pub offset: Option<u64>,
    /// Where: a key or an account, IIN masked.
    pub place: String,
    pub what: String,
}

/// What [`LedgerStore::audit`] found.
#[derive(Debug, Default)]
pub struct Audit {
    pub entries: u64,
    pub dead_letters: u64,
    pub accounts: u64,
    /// In partition and offset order: the first is the first broken link.
    pub breaks: Vec<Break>,
}

/// One item of a partition's chain, in the order it was chained.
enum Item {
    Update(HistoryEntry),
    Dead(DeadLetter),
}

impl Item {
    fn offset(&self) -> u64 {
        match self {
            Item::Update(h) => h.position.offset,
            Item::Dead(d) => d.position.offset,
        }
    }
}

/// An account's chain as recomputed so far.
struct Walk {
    link: Link,
    seq: u64,
}

impl<B: Kv> LedgerStore<B> {
    /// Recomputes every account and partition chain from the stored history
    /// entries and dead letters, and checks each stored link, each
    /// account's head and refs, and each partition's head. `visit` sees
    /// every history entry with its account, in log order per partition (a
    /// caller re-applies them to check the stored accounts too).
    ///
    /// A stored value that does not decode is a break, not an error: the
    /// audit goes on past it.
    ///
    /// Each partition's tree is recomputed too ([`crate::tlog`]): every
    /// leaf from its item (`event_id` reads an entry's event id for its
    /// leaf), compared with the stored leaf hash, then the stored tiles
    /// above, and each kept checkpoint's root with the recomputed tree's
    /// at its size: a history rewritten after it was signed is named.
    pub fn audit(
        &self,
        mut visit: impl FnMut(u32, &Iin, &HistoryEntry),
        event_id: impl Fn(&HistoryEntry) -> Result<String, String>,
    ) -> Result<Audit, StoreError> {
        let mut audit = Audit::default();
        let partitions = self.meta()?.map_or(0, |m| m.partitions);
        for p in 0..partitions {
            self.audit_partition(p, &mut audit, &mut visit, &event_id)?;
        }
        Ok(audit)
    }

    /// Every value under `tag` of partition `p`, decoded in key order; a
    /// value that does not decode is reported to `brk` and skipped.
    fn decode_all<T>(
        &self,
        tag: u8,
        p: u32,
        brk: &mut impl FnMut(Option<u64>, String, String),
        decode: impl Fn(&[u8], &[u8]) -> Result<Vec<T>, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        self.kv.for_each(&key(tag, p, &[]), &mut |k, v| {
            match decode(k, v) {
                Ok(items) => out.extend(items),
                Err(e) => brk(None, printable_key(k), e.to_string()),
            }
            Ok(true)
        })?;
        Ok(out)
    }

    fn audit_partition(
        &self,
        p: u32,
        audit: &mut Audit,
        visit: &mut impl FnMut(u32, &Iin, &HistoryEntry),
        event_id: &impl Fn(&HistoryEntry) -> Result<String, String>,
    ) -> Result<(), StoreError> {
        let mut breaks = Vec::new();
        let mut brk = |offset: Option<u64>, place: String, what: String| {
            breaks.push(Break {
                partition: p,
                offset,
                place,
                what,
            })
        };
        // Who owns which offset, from the accounts' refs.
        let accounts: Vec<AccountRecord> = self.decode_all(ACCOUNT, p, &mut brk, |k, v| {
            decode("account", k, v).map(|r| vec![r])
        })?;
        let mut owner: HashMap<u64, usize> = HashMap::new();
        for (i, r) in accounts.iter().enumerate() {
            for rf in &r.refs {
                if owner.insert(rf.offset, i).is_some() {
                    brk(
                        Some(rf.offset),
                        format!("p{p}@{}", rf.offset),
                        "claimed by two accounts".into(),
                    );
                }
            }
        }
        // The chained items as stored: entries in segment order, dead
        // letters in key order, merged by offset (an update before the
        // dead letter of the same conflicting record).
        let entries: Vec<HistoryEntry> = self.decode_all(HISTORY, p, &mut brk, decode_segment)?;
        let dead: Vec<DeadLetter> = self.decode_all(DEAD, p, &mut brk, |k, v| {
            decode("dead letter", k, v).map(|d| vec![d])
        })?;
        audit.entries += entries.len() as u64;
        audit.dead_letters += dead.len() as u64;
        audit.accounts += accounts.len() as u64;
        let mut items = Vec::with_capacity(entries.len() + dead.len());
        let mut dead = dead.into_iter().peekable();
        for h in entries {
            while let Some(d) = dead.next_if(|d| d.position.offset < h.position.offset) {
                items.push(Item::Dead(d));
            }
            items.push(Item::Update(h));
        }
        items.extend(dead.map(Item::Dead));

        let mut walks: Vec<Walk> = accounts
            .iter()
            .map(|_| Walk {
                link: GENESIS,
                seq: 0,
            })
            .collect();
        let mut seen_refs = vec![0usize; accounts.len()];
        // `stored`: the previous item's stored link, so each break is named
        // once rather than at every item after it. `computed`: the chain
        // recomputed from scratch, for the partition's head.
        let (mut stored, mut computed) = (GENESIS, GENESIS);
        let mut last: Option<u64> = None;
        let mut tree = TreeCheck::new(self, p)?;
        for item in &items {
            let o = item.offset();
            // Named only for a break: an intact store allocates nothing here.
            let place = || format!("p{p}@{o}");
            let prev = last;
            if let Some(l) = last {
                let ordered = match item {
                    Item::Update(_) => o > l,
                    Item::Dead(_) => o >= l,
                };
                if !ordered {
                    brk(Some(o), place(), format!("stored after offset {l}"));
                }
            }
            last = Some(o);
            let (link, stored_link) = match item {
                Item::Update(h) => {
                    let Some(&i) = owner.get(&o) else {
                        brk(Some(o), place(), "history entry of no account".into());
                        stored = h.link;
                        tree.push(None, o, &mut brk)?;
                        continue;
                    };
                    let walk = &mut walks[i];
                    seen_refs[i] += 1;
                    if h.seq != walk.seq {
                        brk(
                            Some(o),
                            place(),
                            format!(
                                "entry {} of account {} where {} was next",
                                h.seq,
                                accounts[i].account.iin.masked(),
                                walk.seq
                            ),
                        );
                    }
                    let preimage = chain::account_preimage(&walk.link, h, &chain::content_hash(h));
                    walk.link = chain::sha256(&preimage);
                    walk.seq += 1;
                    let leaf = match event_id(h) {
                        Ok(id) => Some(tlog::leaf_hash(&tlog::update_leaf(
                            accounts[i].account.iin.as_str(),
                            &id,
                            &preimage,
                        ))),
                        Err(e) => {
                            brk(
                                Some(o),
                                place(),
                                format!(
                                    "its event does not decode ({e}): its leaf is not recomputed"
                                ),
                            );
                            None
                        }
                    };
                    tree.push(leaf, o, &mut brk)?;
                    visit(p, &accounts[i].account.iin, h);
                    computed = chain::update_link(&computed, &walk.link);
                    (chain::update_link(&stored, &walk.link), h.link)
                }
                Item::Dead(d) => {
                    let leaf = tlog::leaf_hash(&tlog::dead_letter_leaf(d));
                    tree.push(Some(leaf), o, &mut brk)?;
                    computed = chain::dead_letter_link(&computed, d);
                    (chain::dead_letter_link(&stored, d), d.link)
                }
            };
            if link != stored_link {
                let what = match item {
                    Item::Update(_) => "account update",
                    Item::Dead(_) => "dead letter",
                };
                let prev = prev.map_or("the start".to_string(), |l| format!("offset {l}"));
                brk(
                    Some(o),
                    place(),
                    format!(
                        "{what}: link does not follow from {prev}: this item, or one \
                         before it, was changed, removed or reordered"
                    ),
                );
            }
            stored = stored_link;
        }
        let updates: std::collections::HashSet<u64> = items
            .iter()
            .filter_map(|it| match it {
                Item::Update(h) => Some(h.position.offset),
                Item::Dead(_) => None,
            })
            .collect();
        for (i, r) in accounts.iter().enumerate() {
            let who = format!("account {} (p{p})", r.account.iin.masked());
            if seen_refs[i] != r.refs.len() {
                let missing: Vec<u64> = r
                    .refs
                    .iter()
                    .map(|rf| rf.offset)
                    .filter(|o| !updates.contains(o))
                    .collect();
                brk(
                    missing.first().copied(),
                    who.clone(),
                    format!("refs name offsets {missing:?} that hold no history entry"),
                );
            }
            if walks[i].link != r.head {
                brk(
                    None,
                    who,
                    "head is not the link of its last history entry".into(),
                );
            }
        }
        tree.finish(&mut brk)?;
        let head = self.chain_head(p)?;
        let want = ChainHead {
            link: computed,
            items: items.len() as u64,
        };
        if head != want {
            brk(
                None,
                format!("partition {p} head"),
                format!(
                    "stored head covers {} items, {}; the items give {}, {}",
                    head.items,
                    chain::hex(&head.link),
                    want.items,
                    chain::hex(&want.link)
                ),
            );
        }
        breaks.sort_by_key(|b| b.offset.unwrap_or(u64::MAX));
        audit.breaks.extend(breaks);
        Ok(())
    }
}

/// A partition's tree recomputed leaf by leaf as the audit walks its
/// items, against the stored tiles and checkpoints.
struct TreeCheck<'a, B: Kv> {
    store: &'a LedgerStore<B>,
    p: u32,
    tree: tlog::Appender,
    /// The stored level-0 tile read last: (index, hashes).
    tile: Option<(u64, Vec<u8>)>,
    /// Whether every leaf so far matched the stored one (upper tiles are
    /// compared only then: otherwise they differ as a consequence).
    leaves_match: bool,
    /// Kept checkpoints still to reach, ascending by size.
    checkpoints: std::collections::VecDeque<u64>,
}

impl<'a, B: Kv> TreeCheck<'a, B> {
    fn new(store: &'a LedgerStore<B>, p: u32) -> Result<Self, StoreError> {
        Ok(TreeCheck {
            store,
            p,
            tree: tlog::Appender::load(p, 0, |_, _| Ok(None))?,
            tile: None,
            leaves_match: true,
            checkpoints: store.checkpoint_sizes(p)?.into(),
        })
    }

    fn stored_leaf(&mut self, index: u64) -> Result<Option<Link>, StoreError> {
        let t = index / tlog::TILE_WIDTH;
        if self.tile.as_ref().is_none_or(|(i, _)| *i != t) {
            let bytes = self.store.tile(self.p, 0, t)?.unwrap_or_default();
            self.tile = Some((t, bytes));
        }
        let at = (index % tlog::TILE_WIDTH) as usize * 32;
        Ok(self
            .tile
            .as_ref()
            .and_then(|(_, b)| b.get(at..at + 32).map(|h| h.try_into().expect("32 bytes"))))
    }

    /// The next leaf: its hash recomputed from its item (`None` when it
    /// cannot be: the stored one stands in, the break already named).
    fn push(
        &mut self,
        computed: Option<Link>,
        offset: u64,
        brk: &mut impl FnMut(Option<u64>, String, String),
    ) -> Result<(), StoreError> {
        let index = self.tree.size();
        let stored = self.stored_leaf(index)?;
        let hash = match (computed, stored) {
            (Some(c), s) => {
                if s != Some(c) && self.leaves_match {
                    self.leaves_match = false;
                    brk(
                        Some(offset),
                        format!("p{}@{offset}", self.p),
                        format!(
                            "leaf {index} of the partition's tree is {} the item gives: this \
                             item, or the tree, was changed after it was chained",
                            if s.is_some() {
                                "not the one"
                            } else {
                                "missing, where"
                            }
                        ),
                    );
                }
                c
            }
            (None, s) => s.unwrap_or_default(),
        };
        self.tree.push(hash);
        for (_, level, i, bytes) in self.tree.take_full() {
            self.compare_tile(level, i, &bytes, brk)?;
        }
        while self
            .checkpoints
            .front()
            .is_some_and(|s| *s <= self.tree.size())
        {
            let size = self.checkpoints.pop_front().expect("a front");
            self.check_checkpoint(size, brk)?;
        }
        Ok(())
    }

    fn compare_tile(
        &self,
        level: u8,
        index: u64,
        bytes: &[u8],
        brk: &mut impl FnMut(Option<u64>, String, String),
    ) -> Result<(), StoreError> {
        // Level 0 is compared leaf by leaf; the levels above only while
        // the leaves match (else they differ as a consequence).
        if level == 0 || !self.leaves_match {
            return Ok(());
        }
        if self.store.tile(self.p, level, index)?.as_deref() != Some(bytes) {
            brk(
                None,
                format!("K/p{}/{level}/{index}", self.p),
                "a tree tile is not what the leaves below it give".into(),
            );
        }
        Ok(())
    }

    fn check_checkpoint(
        &self,
        size: u64,
        brk: &mut impl FnMut(Option<u64>, String, String),
    ) -> Result<(), StoreError> {
        let place = format!("partition {} checkpoint {size}", self.p);
        let note = self.store.checkpoint(self.p, size)?.unwrap_or_default();
        match tlog::checkpoint_size_root(&note) {
            None => brk(None, place, "the signed checkpoint does not parse".into()),
            Some((s, _)) if s != size => brk(
                None,
                place,
                format!("kept under size {size}, it states {s}"),
            ),
            Some((_, root)) if self.tree.size() == size && root != self.tree.root() => brk(
                None,
                place,
                "its signed root is not the tree the items give: the history was changed \
                 after this checkpoint was signed"
                    .into(),
            ),
            Some(_) if self.tree.size() != size => brk(
                None,
                place,
                format!("beyond the tree's {} leaves", self.tree.size()),
            ),
            Some(_) => {}
        }
        Ok(())
    }

    /// At the end of the partition: the stored partial tiles, and the
    /// checkpoints beyond the items.
    fn finish(
        &mut self,
        brk: &mut impl FnMut(Option<u64>, String, String),
    ) -> Result<(), StoreError> {
        let size = self.tree.size();
        if self.leaves_match {
            for (_, level, i, bytes) in self.tree.partial_tiles() {
                if self.store.tile(self.p, level, i)?.as_deref() != Some(bytes.as_slice()) {
                    brk(
                        None,
                        format!("K/p{}/{level}/{i}", self.p),
                        format!("the tree's last tile at level {level} is not what its {size} items give"),
                    );
                }
            }
        }
        while let Some(s) = self.checkpoints.pop_front() {
            self.check_checkpoint(s, brk)?;
        }
        Ok(())
    }
}

/// What [`LedgerStore::verify_account`] found for one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountCheck {
    pub partition: u32,
    /// History entries the account's refs name.
    pub entries: u64,
    /// The account record's stored head.
    pub head: Link,
    /// The first entry (in the account's order) whose chain does not
    /// follow, or the head when every entry does but the head differs.
    pub first_break: Option<EntryBreak>,
}

/// Where an account's chain first breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryBreak {
    /// The entry's place in the account's history (0-based), `None` for
    /// the account's head.
    pub seq: Option<u64>,
    /// Its log offset in the account's partition.
    pub offset: Option<u64>,
    /// The stored entry, when there is one at that offset.
    pub entry: Option<HistoryEntry>,
    pub what: String,
}

impl<B: Kv> LedgerStore<B> {
    /// Recomputes one account's chain (`docs/tamper-evidence.md`) from its
    /// stored history entries and checks, entry by entry, that each stored
    /// partition link follows from the partition's item before it and the
    /// recomputed account link; then that the account's head is the last
    /// link. Reads the account's entries and one neighbour each, so it
    /// answers for one participant without walking the partition (the full
    /// check is [`LedgerStore::audit`]). `None` if there is no account.
    pub fn verify_account(
        &self,
        partition: u32,
        iin: &Iin,
    ) -> Result<Option<AccountCheck>, StoreError> {
        let Some(record) = self.account_record(partition, iin)? else {
            return Ok(None);
        };
        let mut segments: HashMap<u64, Vec<HistoryEntry>> = HashMap::new();
        let mut link = GENESIS;
        let mut first_break = None;
        for (seq, r) in record.refs.iter().enumerate() {
            let seq = seq as u64;
            let found = self
                .segment_of(partition, r.offset, &mut segments)?
                .iter()
                .find(|h| h.position.offset == r.offset)
                .cloned();
            let brk = |entry: Option<HistoryEntry>, what: String| EntryBreak {
                seq: Some(seq),
                offset: Some(r.offset),
                entry,
                what,
            };
            let Some(h) = found else {
                first_break = Some(brk(
                    None,
                    "the account names it; no entry is stored there".into(),
                ));
                break;
            };
            if h.seq != seq {
                first_break = Some(brk(
                    Some(h.clone()),
                    format!(
                        "stored as entry {} of its account, where {seq} was next",
                        h.seq
                    ),
                ));
                break;
            }
            link = chain::account_link(&link, &h, &chain::content_hash(&h));
            let before = self.link_before(partition, r.offset, &mut segments)?;
            if chain::update_link(&before, &link) != h.link {
                first_break = Some(brk(
                    Some(h),
                    "its stored link does not follow: this entry, or one before it in the \
                     account, was changed, removed or reordered"
                        .into(),
                ));
                break;
            }
        }
        if first_break.is_none() && link != record.head {
            first_break = Some(EntryBreak {
                seq: None,
                offset: None,
                entry: None,
                what: "the account's head is not the link of its last history entry".into(),
            });
        }
        Ok(Some(AccountCheck {
            partition,
            entries: record.refs.len() as u64,
            head: record.head,
            first_break,
        }))
    }

    /// The history segment holding `offset` of partition `p` (empty if
    /// none), read once per check.
    fn segment_of<'a>(
        &self,
        p: u32,
        offset: u64,
        segments: &'a mut HashMap<u64, Vec<HistoryEntry>>,
    ) -> Result<&'a Vec<HistoryEntry>, StoreError> {
        let start = offset / crate::SEGMENT * crate::SEGMENT;
        if let std::collections::hash_map::Entry::Vacant(slot) = segments.entry(start) {
            let k = key(HISTORY, p, &start.to_be_bytes());
            slot.insert(match self.kv.get(&k)? {
                Some(v) => decode_segment(&k, &v)?,
                None => Vec::new(),
            });
        }
        Ok(&segments[&start])
    }

    /// The stored partition link of the item chained just before the
    /// account update at `offset`: the last history entry before it, or a
    /// dead letter after that entry (a dead letter follows the update of
    /// its own offset), or the genesis link.
    fn link_before(
        &self,
        p: u32,
        offset: u64,
        segments: &mut HashMap<u64, Vec<HistoryEntry>>,
    ) -> Result<Link, StoreError> {
        let mut update: Option<(u64, Link)> = None;
        let mut start = offset / crate::SEGMENT * crate::SEGMENT;
        loop {
            let seg = self.segment_of(p, start, segments)?;
            if let Some(h) = seg.iter().rev().find(|h| h.position.offset < offset) {
                update = Some((h.position.offset, h.link));
                break;
            }
            if start == 0 {
                break;
            }
            start -= crate::SEGMENT;
        }
        // A dead letter at or after that entry's offset and before ours.
        let from = update.map_or(0, |(o, _)| o);
        let mut dead: Option<Link> = None;
        self.kv.for_each_from(
            &key(DEAD, p, &[]),
            &key(DEAD, p, &from.to_be_bytes()),
            &mut |k, v| {
                let d: DeadLetter = decode("dead letter", k, v)?;
                if d.position.offset >= offset {
                    return Ok(false);
                }
                dead = Some(d.link);
                Ok(true)
            },
        )?;
        Ok(dead.or(update.map(|(_, l)| l)).unwrap_or(GENESIS))
    }
}
