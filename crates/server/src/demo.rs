//! The demo data of `ferry-server seed-demo`: a schema, three users and a few
//! hundred contacts and tasks.
//!
//! The records are generated from fixed seeds by a small self-contained
//! PRNG drawing from the word lists in `demo/data.toml`, so every call and
//! every run yields exactly the same records and ids.
//! Companies, domains and phone numbers are fictional: domains end in
//! `.example` (RFC 2606) and phone numbers lie in ranges reserved for fiction.

use std::collections::HashSet;
use std::sync::LazyLock;

use ferry_protocol::{Access, Fields};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

/// The demo schema file (the format of `crate::schema_file`).
pub const DEMO_SCHEMA: &str = include_str!("../demo/schema.toml");

/// The word lists the records are made from (`demo/data.toml`).
const DEMO_DATA: &str = include_str!("../demo/data.toml");

/// `demo/data.toml`, read.
#[derive(Deserialize)]
struct Lists {
    first_names: Vec<String>,
    last_names: Vec<String>,
    personal_domains: Vec<String>,
    extra_tags: Vec<String>,
    events: Vec<String>,
    months: Vec<String>,
    languages: Vec<String>,
    cities: Vec<String>,
    person_verbs: Vec<String>,
    task_notes: Vec<String>,
    companies: Vec<Company>,
    title_groups: Vec<TitleGroup>,
}

/// Built into the binary and parsed by a test (`the_word_lists_parse`), so it
/// cannot fail at run time.
static LISTS: LazyLock<Lists> =
    LazyLock::new(|| toml::from_str(DEMO_DATA).expect("demo/data.toml is valid (tested)"));

/// One demo record, ready to be created in `collection`.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoRecord {
    pub collection: &'static str,
    pub id: Uuid,
    pub fields: Fields,
}

const CONTACT_COUNT: usize = 240;
const TASK_COUNT: usize = 160;

/// 2026-11-01T00:00:00Z: the timestamp of the first record id; record `i`
/// gets `BASE_MS + i`, so ids sort in generation order.
const BASE_MS: u64 = 1_793_491_200_000;
const CONTENT_SEED: u64 = 0x00F3_2291_DE30_0001;
const ID_SEED: u64 = 0x00F3_2291_DE30_0002;

/// The demo records, the same on every call and every run: contacts first,
/// then tasks.
pub fn demo_records() -> Vec<DemoRecord> {
    let mut rng = SplitMix64(CONTENT_SEED);
    let mut ids = SplitMix64(ID_SEED);
    let contacts = contacts(&mut rng);
    let names: Vec<&str> = contacts
        .iter()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect();
    let tasks = tasks(&mut rng, &names);
    let mut regions = SplitMix64(REGION_SEED);
    let contacts = contacts.into_iter().map(|mut f| {
        f.insert("region".into(), (*regions.weighted(&REGIONS)).into());
        ("contacts", f)
    });
    let tasks = tasks.into_iter().map(|f| ("tasks", f));
    contacts
        .chain(tasks)
        .enumerate()
        .map(|(i, (collection, fields))| DemoRecord {
            collection,
            id: ids.uuid_v7(BASE_MS + i as u64),
            fields,
        })
        .collect()
}

/// Demo users: (username, password, [(collection, access)]). `alice` and
/// `bob` write contacts and tasks; `carol` only reads contacts of the
/// north ([`demo_row_grants`]). The password is `demo` for all three.
#[allow(clippy::type_complexity)]
pub fn demo_users() -> Vec<(&'static str, &'static str, Vec<(&'static str, Access)>)> {
    let writer = || vec![("contacts", Access::Write), ("tasks", Access::Write)];
    vec![
        ("alice", "demo", writer()),
        ("bob", "demo", writer()),
        ("carol", "demo", Vec::new()),
    ]
}

/// The demo's administrator (password `demo`), who signs in to the console at `/admin`.
pub const DEMO_ADMIN: &str = "admin";

/// Grants of some rows: (username, collection, access, partition values).
pub fn demo_row_grants() -> Vec<(&'static str, &'static str, Access, Vec<String>)> {
    vec![("carol", "contacts", Access::Read, vec!["north".to_string()])]
}

/// The demo schema, and the demo users with their grants: users that exist
/// are kept, and each gets `password_hash(password)` when created.
pub async fn seed_schema_and_users(
    store: &crate::store::DynStore,
    password_hash: impl Fn(&str) -> Result<String, String>,
) -> Result<(), String> {
    let defs = crate::schema_file::parse(DEMO_SCHEMA)?;
    store
        .put_collections(&defs)
        .await
        .map_err(|e| e.to_string())?;
    for (username, password, grants) in demo_users() {
        if store
            .user_by_name(username)
            .await
            .map_err(|e| e.to_string())?
            .is_none()
        {
            store
                .create_user(username, &password_hash(password)?)
                .await
                .map_err(|e| e.to_string())?;
        }
        for (collection, access) in grants {
            store
                .set_grant(username, collection, Some(access))
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    if store
        .user_by_name(DEMO_ADMIN)
        .await
        .map_err(|e| e.to_string())?
        .is_none()
    {
        store
            .create_user(DEMO_ADMIN, &password_hash("demo")?)
            .await
            .map_err(|e| e.to_string())?;
        store
            .update_user(DEMO_ADMIN, Some(ferry_protocol::admin::Role::Admin), None)
            .await
            .map_err(|e| e.to_string())?;
    }
    for (username, collection, access, values) in demo_row_grants() {
        store
            .change_rules(crate::store::RuleChange::Grant {
                subject: crate::store::GrantSubject::User(username.to_string()),
                collection: collection.to_string(),
                access: Some(access.into()),
                values,
            })
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The demo's regions, one per contact, from a draw of their own (so the
/// other fields stay as they were): more in the north and south.
const REGIONS: [(&str, u32); 4] = [("north", 35), ("south", 30), ("east", 20), ("west", 15)];
const REGION_SEED: u64 = 0x00F3_2291_DE30_0003;

/// splitmix64: tiny, fast and good enough for demo data.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        // The modulo bias is far below anything a demo could show.
        (self.next() % n.max(1) as u64) as usize
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Picks from `(item, weight)` pairs.
    fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u32 = items.iter().map(|(_, w)| w).sum();
        let mut r = self.below(total as usize) as u32;
        for (item, w) in items {
            if r < *w {
                return item;
            }
            r -= w;
        }
        &items[items.len() - 1].0
    }

    fn uuid_v7(&mut self, millis: u64) -> Uuid {
        let mut bytes = [0u8; 10];
        let a = self.next().to_le_bytes();
        let b = self.next().to_le_bytes();
        bytes[..8].copy_from_slice(&a);
        bytes[8..].copy_from_slice(&b[..2]);
        uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid()
    }
}

// ---------------------------------------------------------------- contacts

use Country::{Au, Uk, Us};
use EmailStyle::{Dotted, First, Initial, Underscore};

/// How a company spells its people's addresses.
#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum EmailStyle {
    /// `first.last`
    Dotted,
    /// `flast`
    Initial,
    /// `first`
    First,
    /// `first_last`
    Underscore,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Country {
    Us,
    Uk,
    Au,
}

#[derive(Deserialize)]
struct Company {
    name: String,
    domain: String,
    /// The relationship: one of the tags.
    tag: String,
    country: Country,
    #[serde(rename = "email")]
    style: EmailStyle,
}

fn contact_note(rng: &mut SplitMix64, company: Option<&Company>, people: &[String]) -> String {
    let org = company.map_or("their team", |c| c.name.as_str());
    match rng.below(12) {
        0 => format!("Met at {}.", rng.pick(&LISTS.events)),
        1 => "Prefers email to phone calls.".to_string(),
        2 if !people.is_empty() => format!("Introduced by {}.", rng.pick(people)),
        3 => format!(
            "Contract renewal comes up in {}; send a quote beforehand.",
            rng.pick(&LISTS.months)
        ),
        4 => format!("Makes the purchasing decisions at {org}."),
        5 => format!(
            "Based in {}; happy to meet in person.",
            rng.pick(&LISTS.cities)
        ),
        6 => "Asked for the new price list.".to_string(),
        7 => format!("Out on leave until {}.", rng.pick(&LISTS.months)),
        8 => format!("Speaks {} and English.", rng.pick(&LISTS.languages)),
        9 => "Handles invoices; copy accounts on anything billing-related.".to_string(),
        10 => "Best reached in the mornings.".to_string(),
        _ => format!("Interested in a pilot for {org} next quarter."),
    }
}

/// Lowercase ASCII for an email local part: folds the accents used in the
/// name lists and drops everything else that is not a letter or digit.
fn ascii_lower(s: &str) -> String {
    s.chars()
        .filter_map(|c| {
            let c = match c {
                'á' | 'à' | 'â' | 'ä' | 'å' | 'ã' => 'a',
                'é' | 'è' | 'ê' | 'ë' => 'e',
                'í' | 'ì' | 'î' | 'ï' => 'i',
                'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' => 'o',
                'ú' | 'ù' | 'û' | 'ü' => 'u',
                'ñ' => 'n',
                'ç' => 'c',
                c => c.to_ascii_lowercase(),
            };
            c.is_ascii_alphanumeric().then_some(c)
        })
        .collect()
}

fn email(rng: &mut SplitMix64, first: &str, last: &str, company: Option<&Company>) -> String {
    let (f, l) = (ascii_lower(first), ascii_lower(last));
    let initial: String = f.chars().take(1).collect();
    match company {
        Some(c) => {
            let local = match c.style {
                Dotted => format!("{f}.{l}"),
                Initial => format!("{initial}{l}"),
                First => f,
                Underscore => format!("{f}_{l}"),
            };
            format!("{local}@{}", c.domain)
        }
        None => {
            let local = match rng.below(3) {
                0 => format!("{f}.{l}"),
                1 => format!("{f}{l}{}", 10 + rng.below(90)),
                _ => format!("{initial}.{l}"),
            };
            format!("{local}@{}", rng.pick(&LISTS.personal_domains))
        }
    }
}

/// A phone number in a range reserved for fiction: US 555-0100..0199, UK
/// Ofcom's drama ranges, Australia's 5550 xxxx.
fn phone(rng: &mut SplitMix64, country: Country) -> String {
    match country {
        Us => {
            let area = rng.pick(&[212, 312, 415, 512, 617, 206, 303, 720]);
            format!("+1 ({area}) 555-01{:02}", rng.below(100))
        }
        Uk => {
            if rng.chance(70) {
                format!("+44 20 7946 0{:03}", rng.below(1000))
            } else {
                format!("+44 161 496 0{:03}", rng.below(1000))
            }
        }
        Au => format!(
            "+61 {} 5550 {:04}",
            rng.pick(&[2, 3, 7, 8]),
            rng.below(10000)
        ),
    }
}

fn contacts(rng: &mut SplitMix64) -> Vec<Fields> {
    let mut seen = HashSet::new();
    let mut names: Vec<String> = Vec::with_capacity(CONTACT_COUNT);
    let mut out = Vec::with_capacity(CONTACT_COUNT);
    for _ in 0..CONTACT_COUNT {
        // A fresh first/last pair: a demo list full of namesakes looks odd.
        let (mut first, mut last) = (
            rng.pick(&LISTS.first_names).as_str(),
            rng.pick(&LISTS.last_names).as_str(),
        );
        for _ in 0..50 {
            if seen.insert((first, last)) {
                break;
            }
            (first, last) = (
                rng.pick(&LISTS.first_names).as_str(),
                rng.pick(&LISTS.last_names).as_str(),
            );
        }
        let name = format!("{first} {last}");
        let company = (!rng.chance(12)).then(|| rng.pick(&LISTS.companies));
        let country = match company {
            Some(c) => c.country,
            None => *rng.pick(&[Us, Us, Uk, Au]),
        };

        let mut f = Fields::new();
        f.insert("name".into(), name.clone().into());
        if !rng.chance(7) {
            f.insert("email".into(), email(rng, first, last, company).into());
        }
        if !rng.chance(20) {
            f.insert("phone".into(), phone(rng, country).into());
        }
        if let Some(c) = company {
            f.insert("company".into(), c.name.as_str().into());
        }
        if rng.chance(35) {
            let mut note = contact_note(rng, company, &names);
            if rng.chance(30) {
                let second = contact_note(rng, company, &names);
                if second != note {
                    note = format!("{note} {second}");
                }
            }
            f.insert("notes".into(), note.into());
        }
        let mut tags: Vec<&str> = Vec::new();
        if let Some(c) = company.filter(|_| !rng.chance(10)) {
            tags.push(&c.tag);
        }
        if rng.chance(if company.is_some() { 12 } else { 55 }) {
            let extra = rng.pick(&LISTS.extra_tags).as_str();
            if !tags.contains(&extra) {
                tags.push(extra);
            }
        }
        if !tags.is_empty() {
            f.insert("tags".into(), tags.into());
        }
        f.insert("vip".into(), rng.chance(10).into());

        names.push(name);
        out.push(f);
    }
    out
}

// ------------------------------------------------------------------- tasks

/// Verbs that go with each kind of object, so titles read naturally.
#[derive(Deserialize)]
struct TitleGroup {
    verbs: Vec<String>,
    objects: Vec<String>,
}

/// Days per month from October 2026 to March 2027 (2027 is not a leap year).
const DUE_MONTHS: &[(u32, u32, u32)] = &[
    (2026, 10, 31),
    (2026, 11, 30),
    (2026, 12, 31),
    (2027, 1, 31),
    (2027, 2, 28),
    (2027, 3, 31),
];

/// The date `day` days after 2026-10-01, clamped to 2027-03-31.
fn due_date(mut day: u32) -> String {
    for &(year, month, len) in DUE_MONTHS {
        if day < len {
            return format!("{year:04}-{month:02}-{:02}", day + 1);
        }
        day -= len;
    }
    "2027-03-31".to_string()
}

fn task_title(rng: &mut SplitMix64, people: &[&str]) -> String {
    if !people.is_empty() && rng.chance(30) {
        let person = rng.pick(people);
        return format!("{} {person}", rng.pick(&LISTS.person_verbs));
    }
    let group = rng.pick(&LISTS.title_groups);
    format!("{} {}", rng.pick(&group.verbs), rng.pick(&group.objects))
}

fn tasks(rng: &mut SplitMix64, people: &[&str]) -> Vec<Fields> {
    let total_days: u32 = DUE_MONTHS.iter().map(|&(_, _, len)| len).sum();
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(TASK_COUNT);
    for _ in 0..TASK_COUNT {
        let mut title = task_title(rng, people);
        for _ in 0..50 {
            if seen.insert(title.clone()) {
                break;
            }
            title = task_title(rng, people);
        }

        let mut f = Fields::new();
        f.insert("title".into(), title.into());
        let status = rng.weighted(&[("todo", 45), ("doing", 25), ("done", 30)]);
        f.insert("status".into(), (*status).into());
        if !rng.chance(10) {
            f.insert(
                "due".into(),
                due_date(rng.below(total_days as usize) as u32).into(),
            );
        }
        if !rng.chance(8) {
            let priority = rng.weighted(&[(1, 10), (2, 25), (3, 35), (4, 20), (5, 10)]);
            f.insert("priority".into(), (*priority as i64).into());
        }
        let assignee = rng.weighted(&[
            (Some("alice"), 35),
            (Some("bob"), 35),
            (Some("carol"), 10),
            (None, 20),
        ]);
        f.insert("assignee".into(), assignee.map_or(Value::Null, Value::from));
        if rng.chance(30) {
            f.insert("notes".into(), rng.pick(&LISTS.task_notes).as_str().into());
        }
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema_file;
    use ferry_protocol::Collection;

    #[test]
    fn the_same_on_every_call() {
        assert_eq!(demo_records(), demo_records());
        assert_eq!(demo_users(), demo_users());
    }

    #[test]
    fn counts_are_in_range() {
        let records = demo_records();
        let count = |c: &str| records.iter().filter(|r| r.collection == c).count();
        assert!(
            (200..=300).contains(&count("contacts")),
            "{}",
            count("contacts")
        );
        assert!((120..=200).contains(&count("tasks")), "{}", count("tasks"));
        assert_eq!(records.len(), count("contacts") + count("tasks"));
    }

    #[test]
    fn every_record_fits_the_schema() {
        let defs = schema_file::parse(DEMO_SCHEMA).expect("demo schema parses");
        let names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["contacts", "tasks"]);
        let collections: Vec<Collection> = defs
            .into_iter()
            .map(|d| d.into_collection(Access::Write))
            .collect();
        for r in demo_records() {
            let c = collections
                .iter()
                .find(|c| c.name == r.collection)
                .expect("known collection");
            c.check_fields(&r.fields)
                .unwrap_or_else(|e| panic!("{} {}: {e}", r.collection, r.id));
            c.check_required(&r.fields)
                .unwrap_or_else(|e| panic!("{} {}: {e}", r.collection, r.id));
        }
    }

    #[test]
    fn ids_are_unique_v7_and_in_order() {
        let records = demo_records();
        let ids: HashSet<Uuid> = records.iter().map(|r| r.id).collect();
        assert_eq!(ids.len(), records.len());
        assert!(records.iter().all(|r| r.id.get_version_num() == 7));
        assert!(records.windows(2).all(|w| w[0].id < w[1].id));
    }

    #[test]
    fn looks_varied() {
        let records = demo_records();
        let contacts: Vec<&Fields> = records
            .iter()
            .filter(|r| r.collection == "contacts")
            .map(|r| &r.fields)
            .collect();
        let vip = contacts
            .iter()
            .filter(|f| f["vip"] == Value::Bool(true))
            .count();
        assert!(
            (contacts.len() / 20..=contacts.len() / 6).contains(&vip),
            "{vip} vips"
        );
        assert!(contacts.iter().any(|f| !f.contains_key("email")));
        assert!(contacts.iter().any(|f| !f.contains_key("notes")));
        assert!(contacts.iter().any(|f| f.contains_key("notes")));
        let emails = contacts.iter().filter_map(|f| f.get("email")?.as_str());
        for e in emails {
            assert!(e.is_ascii() && e.contains('@') && !e.contains(' '), "{e}");
        }
        let names: HashSet<&str> = contacts.iter().filter_map(|f| f["name"].as_str()).collect();
        assert_eq!(names.len(), contacts.len(), "contact names repeat");

        let tasks = records.iter().filter(|r| r.collection == "tasks");
        let statuses: HashSet<&str> = tasks
            .clone()
            .filter_map(|r| r.fields["status"].as_str())
            .collect();
        assert_eq!(statuses.len(), 3);
        assert!(tasks.clone().any(|r| r.fields["assignee"].is_null()));
        for due in tasks.filter_map(|r| r.fields.get("due")?.as_str()) {
            assert!(("2026-10-01"..="2027-03-31").contains(&due), "{due}");
        }
    }

    #[test]
    fn the_word_lists_parse() {
        let lists: Lists = toml::from_str(DEMO_DATA).expect("demo/data.toml");
        assert_eq!((lists.first_names.len(), lists.last_names.len()), (62, 61));
        assert_eq!((lists.companies.len(), lists.title_groups.len()), (30, 11));
    }

    /// The records as seeded before the word lists moved from this file to
    /// `demo/data.toml`: the same count, the same ids, the same fields to the
    /// byte. A deliberate change of the demo data changes the digest.
    #[test]
    fn the_same_records_as_before_the_lists_moved_to_a_file() {
        use sha2::{Digest, Sha256};
        let records = demo_records();
        let count = |c: &str| records.iter().filter(|r| r.collection == c).count();
        assert_eq!((count("contacts"), count("tasks")), (240, 160));
        let (first, last) = (records[0].id, records[records.len() - 1].id);
        assert_eq!(first.to_string(), "01a19467-e800-7500-956b-40921e00dae7");
        assert_eq!(last.to_string(), "01a19467-e98f-7334-9aa2-175a46c9f684");
        let mut digest = Sha256::new();
        for r in &records {
            let fields = serde_json::to_string(&r.fields).expect("fields");
            digest.update(format!("{} {} {fields}\n", r.collection, r.id));
        }
        assert_eq!(
            hex::encode(digest.finalize()),
            "19fde0e5e07f51f3c4be61d10f716f2641f4152e718e3bafd65c49a127b421b2"
        );
    }

    #[test]
    fn due_dates_cover_the_range() {
        assert_eq!(due_date(0), "2026-10-01");
        assert_eq!(due_date(30), "2026-10-31");
        assert_eq!(due_date(31), "2026-11-01");
        assert_eq!(due_date(181), "2027-03-31");
        assert_eq!(due_date(500), "2027-03-31");
    }

    #[test]
    fn three_users_with_their_access() {
        let users = demo_users();
        let names: Vec<&str> = users.iter().map(|u| u.0).collect();
        assert_eq!(names, ["alice", "bob", "carol"]);
        assert!(users.iter().all(|u| u.1 == "demo"));
        for (name, _, grants) in &users[..2] {
            assert!(grants.contains(&("contacts", Access::Write)), "{name}");
            assert!(grants.contains(&("tasks", Access::Write)), "{name}");
        }
        assert!(users[2].2.is_empty());
        assert_eq!(
            demo_row_grants(),
            vec![("carol", "contacts", Access::Read, vec!["north".to_string()])]
        );
    }
}
