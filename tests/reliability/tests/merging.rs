//! Merge by meaning, measured: four clients (two devices each of alice and
//! bob) edit the notes (lines) and tags of the same contacts concurrently,
//! adding, replacing and removing lines at random places and adding and
//! removing tags, syncing now and then and settling conflicts with random
//! choices. The same seeded run goes once against a server whose schema
//! merges those fields `whole` and once against the defaults (`text` and
//! `set`), and prints the conflicts per 1,000 operations of both.
//!
//! Nothing may be lost. Every line and tag is a unique token, so at the end:
//! - every replica equals the server;
//! - a line or tag someone added is in the final value, and one someone
//!   removed is not, unless it was in a conflict a person settled (then
//!   either outcome is theirs to choose);
//! - no version repeats the one before (nothing applied twice).

#[path = "../../../crates/core/tests/common/mod.rs"]
mod common;

use std::collections::{HashMap, HashSet};

use common::{Client, TestServer};
use ferry_core::protocol::merge3::TextPart;
use ferry_core::protocol::{Fields, MergeKind};
use ferry_core::{FieldChoice, RecordState, Resolution};
use ferry_reliability::{seed, sized};
use ferry_server::{demo, schema_file};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use uuid::Uuid;

const USERS: [&str; 4] = ["alice", "bob", "alice", "bob"];
const RECORDS: usize = 6;

#[derive(Default, Debug, Clone, Copy)]
struct Figures {
    operations: usize,
    line_edits: usize,
    tag_edits: usize,
    syncs: usize,
    merged: usize,
    conflicts: usize,
    resolved: usize,
}

struct Sim {
    seed: u64,
    rng: StdRng,
    clients: Vec<Client>,
    ids: Vec<Uuid>,
    /// Tokens (lines and tags) someone added, with where; and those someone removed.
    added: HashMap<String, (Uuid, &'static str)>,
    removed: HashSet<String>,
    /// Tokens in a field whose conflict a person settled: they may go either way.
    settled: HashSet<String>,
    next_token: u64,
    figures: Figures,
}

fn lines(v: &Value) -> Vec<String> {
    v.as_str()
        .unwrap_or("")
        .lines()
        .map(str::to_string)
        .collect()
}

fn tags(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn text(lines: &[String]) -> Value {
    json!(lines.iter().map(|l| format!("{l}\n")).collect::<String>())
}

impl Sim {
    fn token(&mut self, client: usize) -> String {
        self.next_token += 1;
        format!("c{client}-{}", self.next_token)
    }

    fn fail(&self, what: impl std::fmt::Display) -> ! {
        panic!(
            "{what}\nreplay with FERRY_SEED={} (figures so far: {:?})",
            self.seed, self.figures
        )
    }

    async fn step(&mut self, client: usize) {
        self.figures.operations += 1;
        match self.rng.gen_range(0..100) {
            0..=49 => self.edit_lines(client),
            50..=74 => self.edit_tags(client),
            75..=94 => self.sync(client).await,
            _ => self.resolve_conflicts(client),
        }
    }

    /// A record this client can edit now: alive and not waiting for a person.
    fn pick(&mut self, client: usize) -> Option<(Uuid, Fields)> {
        let id = *self.ids.choose(&mut self.rng)?;
        match self.clients[client].store().record("contacts", id) {
            Ok(r) if !r.deleted && r.state != RecordState::Conflict => Some((id, r.fields)),
            Ok(_) => None,
            Err(e) => self.fail(format!("read {id}: {e}")),
        }
    }

    fn update(&mut self, client: usize, id: Uuid, field: &str, value: Value) {
        let mut changes = Fields::new();
        changes.insert(field.to_string(), value);
        if let Err(e) = self.clients[client].store().update("contacts", id, changes) {
            self.fail(format!("edit {field} of {id}: {e}"));
        }
    }

    /// Adds, replaces or removes one line at a random place.
    fn edit_lines(&mut self, client: usize) {
        let Some((id, fields)) = self.pick(client) else {
            return;
        };
        let mut l = lines(fields.get("notes").unwrap_or(&Value::Null));
        let at = self.rng.gen_range(0..=l.len());
        match self.rng.gen_range(0..3) {
            0 if at < l.len() => {
                let gone = l.remove(at);
                self.removed.insert(gone);
            }
            1 if at < l.len() => {
                let new = self.token(client);
                let gone = std::mem::replace(&mut l[at], new.clone());
                self.removed.insert(gone);
                self.added.insert(new, (id, "notes"));
            }
            _ => {
                let new = self.token(client);
                l.insert(at, new.clone());
                self.added.insert(new, (id, "notes"));
            }
        }
        self.update(client, id, "notes", text(&l));
        self.figures.line_edits += 1;
    }

    /// Adds a tag, or removes one.
    fn edit_tags(&mut self, client: usize) {
        let Some((id, fields)) = self.pick(client) else {
            return;
        };
        let mut t = tags(fields.get("tags").unwrap_or(&Value::Null));
        if !t.is_empty() && self.rng.gen_bool(0.4) {
            let gone = t.remove(self.rng.gen_range(0..t.len()));
            self.removed.insert(gone);
        } else {
            let new = self.token(client);
            t.push(new.clone());
            self.added.insert(new, (id, "tags"));
        }
        self.update(client, id, "tags", json!(t));
        self.figures.tag_edits += 1;
    }

    async fn sync(&mut self, client: usize) {
        self.figures.syncs += 1;
        match self.clients[client].engine.sync().await {
            Ok(report) => {
                if report.rejected > 0 || report.outbox > 0 {
                    self.fail(format!("client {client}: {report:?}"));
                }
                self.figures.merged += report.pushed.merged;
                self.figures.conflicts += report.pushed.conflicts;
            }
            Err(e) => self.fail(format!("client {client}: sync failed: {e}")),
        }
    }

    /// Settles every conflict of this client: all mine, all theirs, or per
    /// field (for a text, part by part: mine, theirs or both in order).
    fn resolve_conflicts(&mut self, client: usize) {
        let conflicts = match self.clients[client].store().conflicts() {
            Ok(c) => c,
            Err(e) => self.fail(format!("conflicts: {e}")),
        };
        for k in conflicts {
            let resolution = match self.rng.gen_range(0..4) {
                0 => Resolution::Mine,
                1 => Resolution::Theirs,
                _ => Resolution::Fields(
                    k.fields
                        .iter()
                        .map(|name| (name.clone(), self.choose(k.parts.get(name))))
                        .collect(),
                ),
            };
            // "Theirs" drops every change of mine; otherwise only the
            // conflicting fields are decided by a person.
            let decided: Vec<&String> = match resolution {
                Resolution::Theirs => k.mine_changes.keys().collect(),
                _ => k.fields.iter().collect(),
            };
            for f in decided {
                for side in [&k.base, &k.mine, &k.theirs.fields] {
                    let v = side.get(f).unwrap_or(&Value::Null);
                    self.settled.extend(lines(v).into_iter().chain(tags(v)));
                }
            }
            if let Err(e) =
                self.clients[client]
                    .store()
                    .resolve(&k.collection, k.record_id, &resolution)
            {
                self.fail(format!("resolve {} with {resolution:?}: {e}", k.record_id));
            }
            self.figures.resolved += 1;
        }
    }

    fn choose(&mut self, parts: Option<&Vec<TextPart>>) -> FieldChoice {
        let Some(parts) = parts else {
            return if self.rng.gen_bool(0.5) {
                FieldChoice::Mine
            } else {
                FieldChoice::Theirs
            };
        };
        let mut out = String::new();
        for part in parts {
            match part {
                TextPart::Clean(t) => out.push_str(t),
                TextPart::Clash { mine, theirs, .. } => match self.rng.gen_range(0..3) {
                    0 => out.push_str(mine),
                    1 => out.push_str(theirs),
                    _ => {
                        out.push_str(mine);
                        out.push_str(theirs);
                    }
                },
            }
        }
        FieldChoice::Value(json!(out))
    }
}

/// The demo schema, with contacts' notes and tags merged `kind` (`None`:
/// their defaults, `text` and `set`).
fn schema(kind: Option<MergeKind>) -> Vec<schema_file::CollectionDef> {
    let mut defs = schema_file::parse(demo::DEMO_SCHEMA).expect("demo schema");
    for d in defs.iter_mut().filter(|d| d.name == "contacts") {
        for f in d
            .fields
            .iter_mut()
            .filter(|f| f.name == "notes" || f.name == "tags")
        {
            f.merge = kind;
        }
    }
    defs
}

async fn run(server: TestServer, seed: u64, operations: usize, kind: Option<MergeKind>) -> Figures {
    if let Err(e) = server.store.put_collections(&schema(kind)).await {
        panic!("schema: {e}");
    }
    let mut clients = Vec::new();
    for user in USERS {
        clients.push(Client::login(&server, user).await);
    }
    let mut sim = Sim {
        seed,
        rng: StdRng::seed_from_u64(seed),
        clients,
        ids: Vec::new(),
        added: HashMap::new(),
        removed: HashSet::new(),
        settled: HashSet::new(),
        next_token: 0,
        figures: Figures::default(),
    };
    // Contacts of ten lines and two tags, on every client.
    for r in 0..RECORDS {
        let l: Vec<String> = (0..10).map(|i| format!("base-{r}-{i}")).collect();
        let t = [format!("tag-{r}-a"), format!("tag-{r}-b")];
        let mut f = Fields::new();
        f.insert("name".into(), json!(format!("Contact {r}")));
        f.insert("notes".into(), text(&l));
        f.insert("tags".into(), json!(t));
        let id = match sim.clients[0].store().create("contacts", f) {
            Ok(id) => id,
            Err(e) => sim.fail(format!("create: {e}")),
        };
        sim.ids.push(id);
        sim.added.extend(l.into_iter().map(|l| (l, (id, "notes"))));
        sim.added.extend(t.into_iter().map(|t| (t, (id, "tags"))));
    }
    for c in 0..sim.clients.len() {
        sim.sync(c).await;
    }
    sim.figures = Figures::default();

    for _ in 0..operations {
        let client = sim.rng.gen_range(0..sim.clients.len());
        sim.step(client).await;
    }
    let counted = sim.figures;
    let mut quiet = false;
    for _round in 0..20 {
        let before = sim.figures;
        for c in 0..sim.clients.len() {
            sim.resolve_conflicts(c);
            sim.sync(c).await;
        }
        let f = sim.figures;
        if f.merged + f.conflicts == before.merged + before.conflicts
            && sim
                .clients
                .iter()
                .all(|c| c.store().conflicts().is_ok_and(|k| k.is_empty()))
        {
            quiet = true;
            break;
        }
    }
    if !quiet {
        sim.fail("conflicts kept coming after 20 rounds of syncs");
    }
    for c in 0..sim.clients.len() {
        sim.sync(c).await;
    }
    check(&sim, &server).await;
    counted
}

fn without_nulls(f: &Fields) -> Fields {
    f.iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The (field, token) pairs of a version's notes and tags.
fn tokens(f: &Fields) -> HashSet<(&'static str, String)> {
    let get = |name: &str| f.get(name).unwrap_or(&Value::Null);
    let notes = lines(get("notes")).into_iter().map(|l| ("notes", l));
    notes
        .chain(tags(get("tags")).into_iter().map(|t| ("tags", t)))
        .collect()
}

async fn check(sim: &Sim, server: &TestServer) {
    let mut wrong = Vec::new();
    let mut present = HashMap::new();
    for &id in &sim.ids {
        let history = match server.store.history("contacts", id).await {
            Ok(h) => h,
            Err(e) => sim.fail(format!("history of {id}: {e}")),
        };
        for pair in history.windows(2) {
            if pair[0].fields == pair[1].fields {
                sim.fail(format!(
                    "{id}: version {} repeats version {} (applied twice?)",
                    pair[1].version, pair[0].version
                ));
            }
        }
        let Some(now) = history.last() else {
            sim.fail(format!("{id} has no history"));
        };
        for (c, client) in sim.clients.iter().enumerate() {
            match client.store().record("contacts", id) {
                Ok(l)
                    if without_nulls(&l.fields) == without_nulls(&now.fields)
                        && l.state == RecordState::Synced => {}
                Ok(l) => sim.fail(format!(
                    "client {c} differs from the server on {id}:\nlocal {l:#?}\nserver {now:#?}"
                )),
                Err(e) => sim.fail(format!("client {c}: read {id}: {e}")),
            }
        }
        // Tokens a person typed while settling a conflict are theirs; a
        // token someone removed is not there unless a conflict held it.
        let have = tokens(&now.fields);
        for (field, token) in &have {
            if sim.removed.contains(token) && !sim.settled.contains(token) {
                wrong.push(format!("{id} {field}: {token} was removed but is back"));
            }
        }
        present.insert(id, have);
    }
    // A token someone added is where it was added, unless someone removed
    // it or a conflict held it.
    for (token, (id, field)) in &sim.added {
        if sim.removed.contains(token) || sim.settled.contains(token) {
            continue;
        }
        if !present[id].contains(&(*field, token.clone())) {
            wrong.push(format!("{id} {field}: {token} was added but is gone"));
        }
    }
    if !wrong.is_empty() {
        sim.fail(format!("{} changes lost: {wrong:#?}", wrong.len()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_and_set_merges_lose_nothing_and_conflict_less_than_whole_values() {
    compare("merging", sized(1500, 30_000), || async {
        Some(TestServer::start().await)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_and_set_merges_lose_nothing_on_a_postgresql_server() {
    compare(
        "merging on PostgreSQL",
        sized(500, 10_000),
        TestServer::start_on_postgres,
    )
    .await;
}

/// The same seeded run with `whole` everywhere and with the defaults, each
/// on a server `start` makes; prints both conflict rates.
async fn compare<F, Fut>(name: &str, operations: usize, start: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<TestServer>>,
{
    let s = seed(name);
    // No PostgreSQL configured outside `make test`: the store says so.
    let Some(server) = start().await else {
        return;
    };
    let whole = run(server, s, operations, Some(MergeKind::Whole)).await;
    let Some(server) = start().await else {
        return;
    };
    let meaning = run(server, s, operations, None).await;
    let per_1000 = |f: &Figures| 1000.0 * f.conflicts as f64 / f.operations.max(1) as f64;
    let figures = |f: &Figures| {
        json!({"conflicts": f.conflicts, "merged": f.merged, "per_1000_operations": per_1000(f),
               "line_edits": f.line_edits, "tag_edits": f.tag_edits, "syncs": f.syncs,
               "conflicts_resolved": f.resolved})
    };
    println!(
        "{}",
        json!({
            "test": name,
            "seed": s,
            "operations": operations,
            "whole": figures(&whole),
            "by_meaning": figures(&meaning),
            "lost": 0,
            "applied_twice": 0,
        })
    );
    assert!(
        meaning.conflicts < whole.conflicts,
        "merging by meaning should conflict less: {meaning:?} vs whole {whole:?}"
    );
}
