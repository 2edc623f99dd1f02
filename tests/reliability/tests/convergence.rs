//! Convergence: five clients (three devices of alice, two of bob) and a real
//! server; thousands of seeded random operations (create, edit, delete, go
//! offline and online, sync, resolve conflicts with random choices, restart).
//! At the end everyone syncs, and then:
//! - every replica equals the server;
//! - every edit that left a device is in the server's history, unless the
//!   person settled its conflict the other way (a recorded resolution);
//!   edits replaced on the device before they were sent are the only others;
//! - nothing was applied twice: no value appears as a new change twice in a
//!   record's history.
//!
//! Every 500 operations the server forgets every deletion (history
//! retention): laptops behind pull everything again, edits of forgotten
//! records become edit/delete conflicts, and restored ones start over at
//! version 1; tokens only a forgotten record's history held count as sent.
//!
//! With row rules: contacts are partitioned by region; dana (two devices)
//! may write some regions only (and at times hand contacts over to one she
//! may write but not read), and her grants change at random moments while
//! the others move contacts between regions. Her devices end holding
//! exactly the server's records she may read, and each of her edits is in
//! the history or in a `lost_access` resolution (exported to a file, copied
//! as a new record, or discarded by her choice).
//!
//! Every text value a client writes is unique ("c3-1234"), which is what
//! makes the history checkable; notes merge whole here, so a token is never
//! merged word by word with another. `FERRY_SEED` replays a run, `FERRY_SOAK=1`
//! runs a long one.

#[path = "../../../crates/core/tests/common/mod.rs"]
mod common;

use std::collections::{HashMap, HashSet};

use common::{Client, TestServer};
use ferry_core::protocol::{Access, ConflictKind, Fields, MergeKind};
use ferry_core::{Error, FieldChoice, RecordState, Resolution};
use ferry_reliability::{seed, sized};
use ferry_server::rules::Right;
use ferry_server::{demo, schema_file};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use uuid::Uuid;

const COLLECTIONS: [&str; 2] = ["tasks", "contacts"];
const USERS: [&str; 7] = ["alice", "bob", "alice", "bob", "alice", "dana", "dana"];
const REGIONS: [&str; 4] = ["north", "south", "east", "west"];
/// The user whose contacts are some regions only.
const PARTIAL: &str = "dana";

/// Text fields whose values are unique tokens, per collection; the first is required.
fn token_fields(collection: &str) -> &'static [&'static str] {
    match collection {
        "tasks" => &["title", "assignee", "notes"],
        _ => &["name", "company", "notes"],
    }
}

/// A change to a field that is not tracked, to make conflicts on other types too.
fn noise(rng: &mut StdRng, collection: &str) -> (String, Value) {
    match collection {
        "tasks" if rng.gen_bool(0.5) => (
            "status".into(),
            json!(["todo", "doing", "done"][rng.gen_range(0..3)]),
        ),
        "tasks" => ("priority".into(), json!(rng.gen_range(0..5))),
        _ if rng.gen_bool(0.5) => ("vip".into(), json!(rng.gen_bool(0.5))),
        _ => {
            let tags: Vec<&str> = ["a", "b", "c"]
                .into_iter()
                .filter(|_| rng.gen_bool(0.5))
                .collect();
            ("tags".into(), json!(tags))
        }
    }
}

#[derive(Default, Debug)]
struct Figures {
    operations: usize,
    creates: usize,
    edits: usize,
    deletes: usize,
    syncs: usize,
    offline_toggles: usize,
    restarts: usize,
    conflicts_resolved: usize,
    rule_changes: usize,
    lost_resolved: usize,
    /// dana's writes into a region she may write but not read.
    handed_over: usize,
    /// History compactions that forgot every deletion.
    compactions: usize,
    /// Deleted records they forgot.
    forgotten: u64,
}

struct Sim {
    seed: u64,
    rng: StdRng,
    clients: Vec<Client>,
    /// Every record any client made (copies from "keep both" included).
    ids: Vec<(&'static str, Uuid)>,
    /// Per client: the token of each (record, field) written but not yet sent.
    unsent: Vec<HashMap<(Uuid, String), String>>,
    /// Tokens that left a device: each must be in the server's history.
    required: HashSet<String>,
    /// (record, token) pairs a restore may bring back a second time.
    reintroduced: HashSet<(Uuid, String)>,
    /// The regions dana may read and write now.
    dana_regions: Vec<&'static str>,
    /// A region she may write but not read (hand records over to), if any.
    dana_drop: Option<&'static str>,
    /// Tokens of lost edits kept by an export (each checked in its file).
    exported: HashSet<String>,
    /// Tokens that were in the history of a record a compaction forgot.
    forgotten: HashSet<String>,
    server: std::sync::Arc<TestServer>,
    next_token: u64,
    figures: Figures,
}

impl Sim {
    fn token(&mut self, client: usize) -> String {
        self.next_token += 1;
        format!("c{client}-{}", self.next_token)
    }

    /// Bookkeeping for a local write of `field`: an unsent token it replaces
    /// will never reach the server.
    fn wrote(&mut self, client: usize, id: Uuid, field: &str, value: &Value) {
        self.unsent[client].remove(&(id, field.to_string()));
        if let Some(token) = value.as_str().filter(|s| s.starts_with('c')) {
            self.unsent[client].insert((id, field.to_string()), token.to_string());
        }
    }

    fn fail(&self, what: impl std::fmt::Display) -> ! {
        panic!(
            "{what}\nreplay with FERRY_SEED={} (figures so far: {:?})",
            self.seed, self.figures
        )
    }

    fn partial(&self, client: usize) -> bool {
        USERS[client] == PARTIAL
    }

    /// A region for a record `client` writes: any (or none) for the others,
    /// one dana may write for her; `None` when she may write none.
    fn region(&mut self, client: usize) -> Option<Value> {
        if self.partial(client) {
            if let Some(drop) = self.dana_drop.filter(|_| self.rng.gen_bool(0.2)) {
                self.figures.handed_over += 1;
                return Some(json!(drop));
            }
            let r = *self.dana_regions.choose(&mut self.rng)?;
            return Some(json!(r));
        }
        if self.rng.gen_bool(0.1) {
            return Some(Value::Null);
        }
        Some(json!(REGIONS[self.rng.gen_range(0..REGIONS.len())]))
    }

    /// New grants for dana: one to three regions, read and write, and
    /// sometimes one more she may write without reading.
    async fn change_rules(&mut self) {
        let n = self.rng.gen_range(1..=3);
        let regions: Vec<&'static str> =
            REGIONS.choose_multiple(&mut self.rng, n).copied().collect();
        self.server.grant(PARTIAL, "contacts", None, &[]).await;
        self.server
            .grant(PARTIAL, "contacts", Some(Access::Write), &regions)
            .await;
        let others: Vec<&'static str> = REGIONS
            .iter()
            .copied()
            .filter(|r| !regions.contains(r))
            .collect();
        self.dana_drop = others
            .choose(&mut self.rng)
            .copied()
            .filter(|_| self.rng.gen_bool(0.5));
        if let Some(drop) = self.dana_drop {
            self.server
                .grant_right(PARTIAL, "contacts", Some(Right::WriteOnly), &[drop])
                .await;
        }
        self.dana_regions = regions;
        self.figures.rule_changes += 1;
    }

    /// Forgets every deletion (DESIGN.md, "Retention"), as a server with a
    /// short `tombstone_days` would after a while: laptops whose cursor is
    /// older pull everything again, edits of forgotten records conflict.
    async fn compact(&mut self) {
        for &(collection, id) in &self.ids {
            let history = match self.server.store.history(collection, id).await {
                Ok(h) => h,
                Err(e) => self.fail(format!("history of {collection}/{id}: {e}")),
            };
            if history.last().is_some_and(|v| v.deleted) {
                for v in &history {
                    for t in v.fields.values().filter_map(Value::as_str) {
                        self.forgotten.insert(t.to_string());
                    }
                }
            }
        }
        let plan = ferry_server::store::compact::CompactPlan {
            collections: COLLECTIONS
                .iter()
                .map(|c| {
                    let keep = ferry_core::protocol::admin::Retention {
                        tombstone_days: Some(1),
                        ..Default::default()
                    };
                    (c.to_string(), keep)
                })
                .collect(),
            now: chrono::Utc::now() + chrono::Duration::days(2),
            window: 200,
        };
        match self.server.store.compact(&plan).await {
            Ok(r) => self.figures.forgotten += r.records_forgotten,
            Err(e) => self.fail(format!("compact: {e}")),
        }
        self.figures.compactions += 1;
    }

    async fn step(&mut self, client: usize) {
        self.figures.operations += 1;
        if self.figures.operations.is_multiple_of(500) {
            self.compact().await;
            return;
        }
        if self.rng.gen_bool(0.015) {
            self.change_rules().await;
            return;
        }
        let roll = self.rng.gen_range(0..100);
        match roll {
            0..=14 => self.create(client),
            15..=49 => self.edit(client),
            50..=56 => self.delete(client),
            57..=81 => {
                self.sync(client).await;
            }
            82..=86 => {
                let store = self.clients[client].store();
                let offline = store.work_offline().unwrap_or(false);
                if let Err(e) = store.set_work_offline(!offline) {
                    self.fail(format!("work offline: {e}"));
                }
                self.figures.offline_toggles += 1;
            }
            87..=96 => self.resolve_conflicts(client),
            _ => {
                self.clients[client].restart();
                self.figures.restarts += 1;
            }
        }
    }

    fn create(&mut self, client: usize) {
        let collection = COLLECTIONS[self.rng.gen_range(0..2)];
        let mut fields = Fields::new();
        let mut tokens = Vec::new();
        for (i, f) in token_fields(collection).iter().enumerate() {
            if i == 0 || self.rng.gen_bool(0.5) {
                let t = self.token(client);
                fields.insert((*f).to_string(), json!(t));
                tokens.push((*f, t));
            }
        }
        let (name, value) = noise(&mut self.rng, collection);
        fields.insert(name, value);
        if collection == "contacts" {
            match self.region(client) {
                Some(region) => {
                    fields.insert("region".into(), region);
                }
                None => return,
            }
        }
        let id = match self.clients[client].store().create(collection, fields) {
            Ok(id) => id,
            // Her local rules may be behind the server's: a refused create is not sent.
            Err(Error::InvalidField { .. }) if self.partial(client) => return,
            Err(e) => self.fail(format!("create in {collection}: {e}")),
        };
        for (f, t) in tokens {
            self.wrote(client, id, f, &json!(t));
        }
        self.ids.push((collection, id));
        self.figures.creates += 1;
    }

    /// A record this client has, alive and not waiting for a person.
    fn pick(&mut self, client: usize) -> Option<(&'static str, Uuid)> {
        for _ in 0..8 {
            let &(collection, id) = self.ids.choose(&mut self.rng)?;
            match self.clients[client].store().record(collection, id) {
                Ok(r) if !r.deleted && r.state != RecordState::Conflict => {
                    return Some((collection, id));
                }
                Ok(_) | Err(Error::UnknownRecord { .. }) => {}
                Err(e) => self.fail(format!("read {collection}/{id}: {e}")),
            }
        }
        None
    }

    fn edit(&mut self, client: usize) {
        let Some((collection, id)) = self.pick(client) else {
            return;
        };
        let mut changes = Fields::new();
        let fields = token_fields(collection);
        let n = self.rng.gen_range(1..=2);
        let chosen: Vec<&str> = fields.choose_multiple(&mut self.rng, n).copied().collect();
        for f in chosen {
            let value = if f != fields[0] && self.rng.gen_bool(0.1) {
                Value::Null
            } else {
                json!(self.token(client))
            };
            changes.insert(f.to_string(), value);
        }
        if self.rng.gen_bool(0.3) {
            let (name, value) = noise(&mut self.rng, collection);
            changes.insert(name, value);
        }
        if collection == "contacts"
            && self.rng.gen_bool(0.15)
            && let Some(region) = self.region(client)
        {
            changes.insert("region".into(), region);
        }
        match self.clients[client]
            .store()
            .update(collection, id, changes.clone())
        {
            Ok(()) => {}
            // Outside the rows her laptop knows she may write: refused, nothing queued.
            Err(Error::InvalidField { .. }) if self.partial(client) => return,
            Err(e) => self.fail(format!("edit {collection}/{id}: {e}")),
        }
        for (f, v) in &changes {
            self.wrote(client, id, f, v);
        }
        self.figures.edits += 1;
    }

    fn delete(&mut self, client: usize) {
        let Some((collection, id)) = self.pick(client) else {
            return;
        };
        match self.clients[client].store().delete(collection, id) {
            Ok(()) => {}
            Err(Error::InvalidField { .. }) if self.partial(client) => return,
            Err(e) => self.fail(format!("delete {collection}/{id}: {e}")),
        }
        // A deletion replaces whatever edit of the record was still unsent.
        self.unsent[client].retain(|(rid, _), _| *rid != id);
        self.figures.deletes += 1;
    }

    /// One sync; how many mutations it pushed (none when working offline).
    async fn sync(&mut self, client: usize) -> usize {
        self.figures.syncs += 1;
        match self.clients[client].engine.sync().await {
            Ok(report) => {
                if report.rejected > 0 {
                    self.fail(format!(
                        "client {client}: a mutation was rejected: {report:?}"
                    ));
                }
                if report.outbox > 0 {
                    self.fail(format!(
                        "client {client}: outbox left after a sync: {report:?}"
                    ));
                }
                let sent: Vec<String> = self.unsent[client].drain().map(|(_, t)| t).collect();
                self.required.extend(sent);
                let p = &report.pushed;
                p.applied + p.merged + p.conflicts
            }
            Err(Error::WorkingOffline) => 0,
            Err(e) => self.fail(format!("client {client}: sync failed: {e}")),
        }
    }

    /// Settles every conflict this client has, each with a random choice.
    fn resolve_conflicts(&mut self, client: usize) {
        let conflicts = match self.clients[client].store().conflicts() {
            Ok(c) => c,
            Err(e) => self.fail(format!("conflicts: {e}")),
        };
        for k in conflicts {
            let id = k.record_id;
            let mine: Vec<(String, String)> = k
                .mine_changes
                .iter()
                .filter_map(|(f, v)| v.as_str().map(|t| (f.clone(), t.to_string())))
                .filter(|(_, t)| t.starts_with('c'))
                .collect();
            let options: &[&str] = match k.kind {
                ConflictKind::EditEdit => &["mine", "theirs", "fields", "keep_both"],
                ConflictKind::EditDelete => &["mine", "restore", "theirs", "accept", "keep_both"],
                ConflictKind::DeleteEdit => &["mine", "accept", "theirs", "restore"],
                ConflictKind::LostAccess => &["export", "copy", "discard"],
            };
            let choice = options[self.rng.gen_range(0..options.len())];
            // Which of my tokens go out again (re-sent), and which are given up.
            let mut resend: Vec<(String, String)> = Vec::new();
            let mut fresh: Vec<(String, String)> = Vec::new();
            let export_to = self.clients[client]
                .dir
                .path()
                .join(format!("lost-{id}.json"));
            // A file of an earlier export of this record is not this one's.
            let _ = std::fs::remove_file(&export_to);
            let resolution = match (k.kind, choice) {
                (ConflictKind::LostAccess, "export") => Resolution::Export {
                    path: export_to.clone(),
                },
                (ConflictKind::LostAccess, "discard") => Resolution::Discard,
                (ConflictKind::LostAccess, _) => {
                    // A copy goes where her laptop says she may write; with nowhere, an export.
                    let col = self.clients[client].store().collection(&k.collection).ok();
                    let writable: Vec<String> = col
                        .and_then(|c| c.rows)
                        .and_then(|r| r.write)
                        .unwrap_or_default();
                    match writable.choose(&mut self.rng) {
                        Some(region) => {
                            resend = mine.clone();
                            let mut set = Fields::new();
                            set.insert("region".into(), json!(region));
                            Resolution::CopyAsNew { set }
                        }
                        None => Resolution::Export {
                            path: export_to.clone(),
                        },
                    }
                }
                (_, "theirs") => Resolution::Theirs,
                (_, "accept") => Resolution::AcceptDelete,
                (ConflictKind::EditEdit, "mine") => {
                    resend = mine.clone();
                    Resolution::Mine
                }
                (ConflictKind::EditDelete, "mine" | "restore") => {
                    resend = mine.clone();
                    // The record comes back with all my values, older ones too.
                    for v in k.mine.values().filter_map(Value::as_str) {
                        self.reintroduced.insert((id, v.to_string()));
                    }
                    Resolution::Restore
                }
                (ConflictKind::DeleteEdit, "mine") => Resolution::Mine,
                (ConflictKind::DeleteEdit, _) => Resolution::Restore,
                (_, "keep_both") => Resolution::KeepBoth,
                _ => {
                    let mut choices = Vec::new();
                    for name in &k.fields {
                        let is_token = token_fields(&k.collection).contains(&name.as_str());
                        let c = match self.rng.gen_range(0..3) {
                            0 => FieldChoice::Mine,
                            1 if is_token => {
                                let t = self.token(client);
                                fresh.push((name.clone(), t.clone()));
                                FieldChoice::Value(json!(t))
                            }
                            _ => FieldChoice::Theirs,
                        };
                        choices.push((name.clone(), c));
                    }
                    // My fields that do not conflict, and the ones I kept, go out again.
                    resend = mine
                        .iter()
                        .filter(|(f, _)| {
                            !k.fields.contains(f)
                                || choices
                                    .iter()
                                    .any(|(n, c)| n == f && *c == FieldChoice::Mine)
                        })
                        .cloned()
                        .collect();
                    Resolution::Fields(choices)
                }
            };
            let copy = match self.clients[client]
                .store()
                .resolve(&k.collection, id, &resolution)
            {
                Ok(copy) => copy,
                // Her laptop's rules may be behind: keep the edit in a file instead.
                Err(Error::InvalidField { .. }) if k.kind == ConflictKind::LostAccess => {
                    resend.clear();
                    let export = Resolution::Export {
                        path: export_to.clone(),
                    };
                    match self.clients[client]
                        .store()
                        .resolve(&k.collection, id, &export)
                    {
                        Ok(_) => None,
                        Err(e) => self.fail(format!("export of {}/{id}: {e}", k.collection)),
                    }
                }
                Err(e) => self.fail(format!(
                    "resolve {:?} on {}/{id} with {resolution:?}: {e}",
                    k.kind, k.collection
                )),
            };
            if k.kind == ConflictKind::LostAccess {
                self.figures.lost_resolved += 1;
                if export_to.exists() {
                    let text = std::fs::read_to_string(&export_to).unwrap_or_default();
                    for (_, t) in &mine {
                        if !text.contains(t.as_str()) {
                            self.fail(format!("{t} is not in the export of {}/{id}", k.collection));
                        }
                        self.exported.insert(t.clone());
                    }
                }
            }
            // Resolved tokens are unsent again (and may yet be replaced
            // before they go); given-up tokens are no longer owed.
            for (_, t) in &mine {
                self.required.remove(t);
            }
            let target = match copy {
                Some(copy) => {
                    let collection = COLLECTIONS
                        .into_iter()
                        .find(|c| *c == k.collection)
                        .unwrap_or("tasks");
                    self.ids.push((collection, copy));
                    resend = mine.clone();
                    copy
                }
                None => id,
            };
            for (f, t) in resend.into_iter().chain(fresh) {
                self.unsent[client].insert((target, f), t);
            }
            self.figures.conflicts_resolved += 1;
        }
    }
}

fn without_nulls(f: &Fields) -> Fields {
    f.iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

async fn run(server: TestServer, seed: u64, operations: usize) -> Figures {
    let server = std::sync::Arc::new(server);
    // Tokens are checked as whole values: notes merge whole here (merging
    // inside a text is what tests/merging.rs checks).
    let mut defs = schema_file::parse(demo::DEMO_SCHEMA).expect("demo schema");
    for f in defs
        .iter_mut()
        .flat_map(|d| d.fields.iter_mut())
        .filter(|f| f.name == "notes")
    {
        f.merge = Some(MergeKind::Whole);
    }
    if let Err(e) = server.store.put_collections(&defs).await {
        panic!("schema: {e}");
    }
    server
        .add_user(PARTIAL, "contacts", Access::Write, &["north", "east"])
        .await;
    server
        .grant(PARTIAL, "tasks", Some(Access::Write), &[])
        .await;
    let mut clients = Vec::new();
    for user in USERS {
        clients.push(Client::login(&server, user).await);
    }
    let mut sim = Sim {
        seed,
        rng: StdRng::seed_from_u64(seed),
        unsent: vec![HashMap::new(); clients.len()],
        clients,
        ids: Vec::new(),
        required: HashSet::new(),
        reintroduced: HashSet::new(),
        dana_regions: vec!["north", "east"],
        dana_drop: None,
        exported: HashSet::new(),
        forgotten: HashSet::new(),
        server: server.clone(),
        next_token: 0,
        figures: Figures::default(),
    };
    for _ in 0..operations {
        let client = sim.rng.gen_range(0..sim.clients.len());
        sim.step(client).await;
    }

    // Everyone online; settle, sync, until nothing moves.
    for c in 0..sim.clients.len() {
        if let Err(e) = sim.clients[c].store().set_work_offline(false) {
            sim.fail(format!("online: {e}"));
        }
    }
    let mut quiet = false;
    for _round in 0..20 {
        let mut pushed = 0;
        for c in 0..sim.clients.len() {
            sim.resolve_conflicts(c);
            pushed += sim.sync(c).await;
        }
        if pushed == 0 {
            quiet = true;
            break;
        }
    }
    if !quiet {
        sim.fail("edits and conflicts kept coming after 20 rounds of syncs");
    }
    // One more pull each, so everyone has the last pushes of the others.
    for c in 0..sim.clients.len() {
        sim.sync(c).await;
    }

    // Every replica equals the server.
    let mut in_history: HashSet<String> = HashSet::new();
    for &(collection, id) in &sim.ids {
        let history = match server.store.history(collection, id).await {
            Ok(h) => h,
            Err(e) => sim.fail(format!("history of {collection}/{id}: {e}")),
        };
        // Nothing applied twice: each token is a new value at most once.
        let mut introduced: HashMap<&str, usize> = HashMap::new();
        let mut live = Fields::new();
        for pair in history.windows(2) {
            if !pair[0].deleted && !pair[1].deleted && pair[0].fields == pair[1].fields {
                sim.fail(format!(
                    "{collection}/{id}: version {} repeats version {} (applied twice?)",
                    pair[1].version, pair[0].version
                ));
            }
        }
        for version in &history {
            if version.deleted {
                continue;
            }
            for (f, v) in &version.fields {
                if let Some(t) = v.as_str() {
                    in_history.insert(t.to_string());
                    if live.get(f) != Some(v) {
                        *introduced.entry(t).or_default() += 1;
                    }
                }
            }
            live = version.fields.clone();
        }
        for (token, n) in introduced {
            let allowed = if sim.reintroduced.contains(&(id, token.to_string())) {
                2
            } else {
                1
            };
            if token.starts_with('c') && n > allowed {
                sim.fail(format!(
                    "{token} was applied {n} times to {collection}/{id}: {history:#?}"
                ));
            }
        }
        let server_now = history.last();
        for (c, client) in sim.clients.iter().enumerate() {
            let local = client.store().record(collection, id);
            // What this client's user may read of the server's record now.
            let visible = server_now.filter(|s| {
                !sim.partial(c)
                    || collection != "contacts"
                    || s.fields
                        .get("region")
                        .and_then(Value::as_str)
                        .is_some_and(|r| sim.dana_regions.contains(&r))
            });
            match (visible, local) {
                (Some(s), Ok(l)) if !s.deleted => {
                    if l.deleted
                        || without_nulls(&l.fields) != without_nulls(&s.fields)
                        || l.state != RecordState::Synced
                        || l.base_version() != Some(s.version)
                    {
                        sim.fail(format!(
                            "client {c} differs from the server on {collection}/{id}:\nlocal {l:#?}\nserver {s:#?}"
                        ));
                    }
                }
                (Some(s), Err(e)) if !s.deleted => {
                    let versions: Vec<String> = history
                        .iter()
                        .map(|v| {
                            format!(
                                "v{} seq? by {} region {:?} deleted {}",
                                v.version,
                                v.updated_by,
                                v.fields.get("region"),
                                v.deleted
                            )
                        })
                        .collect();
                    sim.fail(format!(
                        "client {c} lacks {collection}/{id}: {e}\nits history: {versions:#?}\ndana reads {:?}, may hand to {:?}",
                        sim.dana_regions, sim.dana_drop
                    ))
                }
                (_, Ok(l)) if !l.deleted => sim.fail(format!(
                    "client {c} still shows {collection}/{id}, which the server does not have alive or its user may not read: {l:#?}\nits history: {:#?}\ndana reads {:?}",
                    history.iter().map(|v| (v.version, v.deleted, v.fields.get("region").cloned(), v.updated_by.clone())).collect::<Vec<_>>(),
                    sim.dana_regions
                )),
                (_, Ok(_) | Err(Error::UnknownRecord { .. })) => {}
                (_, Err(e)) => sim.fail(format!("client {c}: read {collection}/{id}: {e}")),
            }
        }
    }
    // Every edit that left a device is on the server (or settled otherwise).
    let mut missing: Vec<&String> = sim
        .required
        .iter()
        .filter(|t| {
            !in_history.contains(*t) && !sim.exported.contains(*t) && !sim.forgotten.contains(*t)
        })
        .collect();
    missing.sort();
    if !missing.is_empty() {
        sim.fail(format!(
            "{} sent edits are not in the server's history: {missing:?}",
            missing.len()
        ));
    }
    for c in 0..sim.clients.len() {
        if !sim.unsent[c].is_empty() {
            sim.fail(format!("client {c} still has unsent edits at the end"));
        }
    }
    sim.figures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_clients_converge_after_random_operations() {
    converge("convergence", sized(6000, 100_000), || async {
        Some(TestServer::start().await)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_clients_converge_on_a_postgresql_server() {
    converge(
        "convergence on PostgreSQL",
        sized(2000, 50_000),
        TestServer::start_on_postgres,
    )
    .await;
}

/// Runs the simulation from `FERRY_SEED` (or a random seed) on servers
/// `start` makes, one per seed, and prints the figures.
async fn converge<F, Fut>(name: &str, operations: usize, start: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<TestServer>>,
{
    let seeds = sized(1, 10);
    let first = seed(name);
    let mut total = Figures::default();
    // Whether a run reaches a rule change, a hand-over and compaction also
    // hangs on timing: on a loaded machine one seed (3714817397028561092)
    // once missed them. The next seeds, up to 10, run until it has.
    let covered = |t: &Figures| t.rule_changes > 0 && t.handed_over > 0 && t.forgotten > 0;
    for i in 0..10.max(seeds) {
        if i >= seeds && covered(&total) {
            break;
        }
        let s = first.wrapping_add(i as u64);
        // No PostgreSQL configured outside `make test`: the store says so.
        let Some(server) = start().await else {
            return;
        };
        let f = run(server, s, operations).await;
        total.operations += f.operations;
        total.creates += f.creates;
        total.edits += f.edits;
        total.deletes += f.deletes;
        total.syncs += f.syncs;
        total.offline_toggles += f.offline_toggles;
        total.restarts += f.restarts;
        total.conflicts_resolved += f.conflicts_resolved;
        total.rule_changes += f.rule_changes;
        total.lost_resolved += f.lost_resolved;
        total.handed_over += f.handed_over;
        total.compactions += f.compactions;
        total.forgotten += f.forgotten;
    }
    assert!(
        covered(&total),
        "the run changed rules, handed records over and compacted history"
    );
    println!(
        "{}",
        json!({
            "test": name,
            "seeds": seeds,
            "operations": total.operations,
            "creates": total.creates,
            "edits": total.edits,
            "deletes": total.deletes,
            "syncs": total.syncs,
            "offline_toggles": total.offline_toggles,
            "restarts": total.restarts,
            "conflicts_resolved": total.conflicts_resolved,
            "rule_changes": total.rule_changes,
            "lost_access_resolved": total.lost_resolved,
            "handed_over": total.handed_over,
            "compactions": total.compactions,
            "forgotten": total.forgotten,
            "lost": 0,
            "applied_twice": 0,
        })
    );
}
