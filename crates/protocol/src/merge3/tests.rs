use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::*;

fn text(m: &TextMerge) -> String {
    m.clean_text().unwrap_or_else(|| panic!("a clash: {m:?}"))
}

fn clashes(m: &TextMerge) -> Vec<(&str, &str, &str)> {
    m.parts
        .iter()
        .filter_map(|p| match p {
            TextPart::Clash { base, mine, theirs } => {
                Some((base.as_str(), mine.as_str(), theirs.as_str()))
            }
            TextPart::Clean(_) => None,
        })
        .collect()
}

#[test]
fn sets_take_both_sides_additions_and_removals() {
    let cases: &[(Value, Value, Value, Value)] = &[
        // mine adds "urgent", theirs removes "later"
        (
            json!(["vip", "later"]),
            json!(["vip", "later", "urgent"]),
            json!(["vip"]),
            json!(["vip", "urgent"]),
        ),
        // both add the same tag: once
        (
            json!(["a"]),
            json!(["a", "b"]),
            json!(["a", "b"]),
            json!(["a", "b"]),
        ),
        // both remove the same tag
        (json!(["a", "b"]), json!(["b"]), json!(["b"]), json!(["b"])),
        // a null base is an empty set; theirs' additions come first
        (json!(null), json!(["x"]), json!(["y"]), json!(["y", "x"])),
        // one side removes what the other keeps, the other adds
        (
            json!(["a", "b", "c"]),
            json!(["a", "c", "d"]),
            json!(["c", "b", "a", "e"]),
            json!(["a", "c", "e", "d"]),
        ),
        // one side cleared the field, the other added
        (json!(["a"]), json!(null), json!(["a", "b"]), json!(["b"])),
    ];
    for (base, mine, theirs, want) in cases {
        assert_eq!(
            &merge_sets(base, mine, theirs),
            want,
            "base {base} mine {mine} theirs {theirs}"
        );
    }
}

fn random_set(rng: &mut StdRng) -> Value {
    let n = rng.gen_range(0..5);
    Value::Array(
        (0..n)
            .map(|_| json!(["a", "b", "c", "d", "e", "f"][rng.gen_range(0..6)]))
            .collect(),
    )
}

fn as_set(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = items(v).iter().map(Value::to_string).collect();
    out.sort();
    out.dedup();
    out
}

#[test]
fn set_merge_properties_hold_for_random_sets() {
    let mut rng = StdRng::seed_from_u64(22);
    for _ in 0..5000 {
        let (b, m, t) = (
            random_set(&mut rng),
            random_set(&mut rng),
            random_set(&mut rng),
        );
        let r = merge_sets(&b, &m, &t);
        // An unchanged side gives the other side.
        assert_eq!(as_set(&merge_sets(&b, &b, &t)), as_set(&t));
        assert_eq!(as_set(&merge_sets(&b, &m, &b)), as_set(&m));
        // Symmetric as a set.
        assert_eq!(as_set(&r), as_set(&merge_sets(&b, &t, &m)), "{b} {m} {t}");
        // Merging the result again changes nothing.
        assert_eq!(as_set(&merge_sets(&b, &m, &r)), as_set(&r), "{b} {m} {t}");
        // Every addition and removal of either side is in the result.
        let (bs, ms, ts, rs) = (as_set(&b), as_set(&m), as_set(&t), as_set(&r));
        for v in ms.iter().chain(&ts) {
            if !bs.contains(v) {
                assert!(rs.contains(v), "added {v} lost: {b} {m} {t} -> {r}");
            }
        }
        for v in &bs {
            if !ms.contains(v) || !ts.contains(v) {
                assert!(!rs.contains(v), "removed {v} kept: {b} {m} {t} -> {r}");
            }
        }
    }
}

#[test]
fn text_merges_changes_that_do_not_touch() {
    let base = "Met at the fair.\nLikes tea.\nCall in March.\n";
    let cases: &[(&str, &str, &str, &str)] = &[
        // a typo fixed in line 1, a paragraph appended
        (
            "Met at teh fair.\nLikes tea.\n",
            "Met at the fair.\nLikes tea.\n",
            "Met at teh fair.\nLikes tea.\n\nSigned in May.\n",
            "Met at the fair.\nLikes tea.\n\nSigned in May.\n",
        ),
        // different words of the same line
        (
            base,
            "Met at the spring fair.\nLikes tea.\nCall in March.\n",
            "Met at the fair.\nLikes tea.\nCall in April.\n",
            "Met at the spring fair.\nLikes tea.\nCall in April.\n",
        ),
        // edits on adjacent lines
        (
            base,
            "Met at the fair.\nLikes green tea.\nCall in March.\n",
            "Met at the fair.\nLikes tea.\nCall in June.\n",
            "Met at the fair.\nLikes green tea.\nCall in June.\n",
        ),
        // both sides make the same change
        (base, "Likes tea.\n", "Likes tea.\n", "Likes tea.\n"),
        // a base of null is an empty text: one side only
        ("", "new text", "", "new text"),
        // one side deletes a line, the other edits another
        (
            base,
            "Met at the fair.\nCall in March.\n",
            "Met at the fair.\nLikes tea.\nCall in May.\n",
            "Met at the fair.\nCall in May.\n",
        ),
        // accents, emoji and right-to-left text, by characters
        (
            "Café 👩‍💻 résumé\nשלום עולם\n",
            "Café 👩‍💻 résumé!\nשלום עולם\n",
            "Café 👍🏽 résumé\nשלום עולם\n",
            "Café 👍🏽 résumé!\nשלום עולם\n",
        ),
        (
            "שלום עולם יפה\n",
            "שלום עולם יפה מאוד\n",
            "היי עולם יפה\n",
            "היי עולם יפה מאוד\n",
        ),
        // combining accents stay on their letter
        (
            "cafe\u{301} noir",
            "cafe\u{301} au lait",
            "the cafe\u{301} noir",
            "the cafe\u{301} au lait",
        ),
    ];
    for (base, mine, theirs, want) in cases {
        let merged = merge_text(base, mine, theirs);
        assert_eq!(
            &text(&merged),
            want,
            "base {base:?} mine {mine:?} theirs {theirs:?}"
        );
    }
}

#[test]
fn text_clashes_only_where_both_changed_the_same_words() {
    let base = "Call in March.\nLikes tea.\n";
    let merged = merge_text(
        base,
        "Call in April.\nLikes tea!\n",
        "Call in May.\nLikes tea.\n",
    );
    assert_eq!(clashes(&merged), vec![("March", "April", "May")]);
    assert_eq!(
        merged.parts,
        vec![
            TextPart::Clean("Call in ".into()),
            TextPart::Clash {
                base: "March".into(),
                mine: "April".into(),
                theirs: "May".into()
            },
            TextPart::Clean(".\nLikes tea!\n".into()),
        ]
    );
    // One side deletes the line the other edits: a clash.
    let merged = merge_text("a\nb c\nd\n", "a\nd\n", "a\nb x\nd\n");
    assert_eq!(clashes(&merged).len(), 1, "{merged:?}");
    // Two insertions at one place clash (their order is not knowable).
    let merged = merge_text("a b", "a x b", "a y b");
    assert_eq!(clashes(&merged), vec![("", "x ", "y ")]);
    // A word written without spaces is one unit: a date, an address, a
    // code whose pieces both sides changed clashes, never mixes.
    for (base, mine, theirs) in [
        (
            "due 2026-01-02 ok",
            "due 2026-03-02 ok",
            "due 2026-01-09 ok",
        ),
        ("mail ann@old.org", "mail ann@new.org", "mail bea@old.org"),
        ("c2-27\n", "c2-93\n", "basec2-27\n"),
    ] {
        let merged = merge_text(base, mine, theirs);
        assert_eq!(clashes(&merged).len(), 1, "{base:?}: {merged:?}");
    }
    // Words apart on one line still merge.
    let merged = merge_text(
        "due 2026-01-02 ok",
        "due 2026-03-02 ok",
        "Due 2026-01-02 ok",
    );
    assert_eq!(text(&merged), "Due 2026-03-02 ok");
}

#[test]
fn whitespace_and_line_endings_never_clash() {
    // Mine re-indents and switches to CRLF; theirs changes words.
    let merged = merge_text(
        "one two\nthree\n",
        "one  two\r\nthree\r\n",
        "one 2\nthree\n",
    );
    assert!(merged.is_clean(), "{merged:?}");
    assert_eq!(text(&merged), "one 2\nthree\r\n");
    // Both change the spacing differently: still no clash.
    let merged = merge_text("a b", "a  b", "a\tb");
    assert!(merged.is_clean(), "{merged:?}");
}

fn random_edit(rng: &mut StdRng, lines: &[String]) -> Vec<String> {
    let mut out = lines.to_vec();
    for _ in 0..rng.gen_range(1..4) {
        let at = rng.gen_range(0..=out.len());
        match rng.gen_range(0..3) {
            0 => out.insert(at, format!("added {}", rng.r#gen::<u32>())),
            1 if at < out.len() => {
                out.remove(at);
            }
            _ if at < out.len() => out[at] = format!("{} changed {}", out[at], rng.r#gen::<u16>()),
            _ => {}
        }
    }
    out
}

#[test]
fn text_merge_properties_hold_for_random_edits() {
    let mut rng = StdRng::seed_from_u64(21);
    for _ in 0..1000 {
        let base: Vec<String> = (0..rng.gen_range(0..12))
            .map(|i| format!("line {i}"))
            .collect();
        let mine = random_edit(&mut rng, &base);
        let theirs = random_edit(&mut rng, &base);
        let (b, m, t) = (base.join("\n"), mine.join("\n"), theirs.join("\n"));
        // An unchanged side gives the other side.
        assert_eq!(text(&merge_text(&b, &b, &t)), t);
        assert_eq!(text(&merge_text(&b, &m, &b)), m);
        let merged = merge_text(&b, &m, &t);
        // Stitching every clash with one side's text gives back that side's
        // changes: the clean parts never drop or invent text.
        let pick = |mine_side: bool| -> String {
            merged
                .parts
                .iter()
                .map(|p| match p {
                    TextPart::Clean(s) => s.as_str(),
                    TextPart::Clash { mine, theirs, .. } => {
                        if mine_side {
                            mine
                        } else {
                            theirs
                        }
                    }
                })
                .collect()
        };
        if let Some(result) = merged.clean_text() {
            // Merging mine into the result again changes nothing: it gives
            // the result, or a clash (which writes nothing).
            let again = merge_text(&b, &m, &result);
            if let Some(again) = again.clean_text() {
                assert_eq!(again, result, "{b:?} {m:?} {t:?}");
            }
            // Every line a side added is in the result.
            for line in mine
                .iter()
                .chain(&theirs)
                .filter(|l| l.starts_with("added"))
            {
                assert!(
                    result.contains(line.as_str()),
                    "{line:?} lost: {b:?} {m:?} {t:?}"
                );
            }
        } else {
            for line in mine.iter().filter(|l| l.starts_with("added")) {
                assert!(pick(true).contains(line.as_str()), "{line:?} lost");
            }
            for line in theirs.iter().filter(|l| l.starts_with("added")) {
                assert!(pick(false).contains(line.as_str()), "{line:?} lost");
            }
        }
    }
}

#[test]
fn a_megabyte_text_merges_in_bounded_time() {
    let base: String = (0..40_000)
        .map(|i| format!("line {i} of the notes\n"))
        .collect();
    assert!(base.len() > 800_000);
    let mine = base.replacen("line 10 of", "line ten of", 1);
    let theirs = base.replacen("line 39000 of", "line 39 thousand of", 1) + "the end\n";
    let started = Instant::now();
    let merged = merge_text(&base, &mine, &theirs);
    let took = started.elapsed();
    let result = text(&merged);
    assert!(
        result.contains("line ten of")
            && result.contains("39 thousand")
            && result.ends_with("the end\n")
    );
    // Generous: the diff has a 250 ms budget per side; this guards against
    // an unbounded algorithm, not against a slow machine.
    assert!(took < Duration::from_secs(20), "{took:?}");
    // Completely different texts fall back to one clash, within the budget.
    let other: String = (0..40_000)
        .map(|i| format!("row {i} elsewhere\n"))
        .collect();
    let merged = merge_text(&base, &other, &base.replace("line", "LINE"));
    assert!(!merged.is_clean());
}

#[test]
fn tokens_keep_characters_and_line_ends_whole() {
    assert_eq!(
        tokens("a bc\r\n  d\n"),
        vec!["a", " ", "bc", "\r\n", "  ", "d", "\n"]
    );
    assert_eq!(
        tokens("e\u{301}t\u{e9} 👩‍💻!"),
        vec!["e\u{301}t\u{e9}", " ", "👩‍💻", "!"]
    );
    assert_eq!(tokens("don't"), vec!["don't"]);
    assert_eq!(tokens("").len(), 0);
    // Tokens always join back to the text.
    for s in ["שלום, עולם", "x\r\r\ny", "  \t\n\n", "👍🏽👍"] {
        assert_eq!(tokens(s).concat(), s);
    }
}

#[test]
fn a_field_merges_by_its_kind() {
    use crate::MergeKind::{Set, Text, Whole};
    let merged = |v: Value| FieldMerge::Merged(v);
    let clash = FieldMerge::Clash(Vec::new());
    let cases: Vec<(&str, crate::MergeKind, Value, Value, Value, FieldMerge)> = vec![
        (
            "only mine changed",
            Whole,
            json!(1),
            json!(2),
            json!(1),
            merged(json!(2)),
        ),
        (
            "only theirs changed",
            Whole,
            json!(1),
            json!(1),
            json!(3),
            merged(json!(3)),
        ),
        (
            "the same change",
            Whole,
            json!(1),
            json!(2.0),
            json!(2),
            merged(json!(2)),
        ),
        (
            "both changed a whole value",
            Whole,
            json!(1),
            json!(2),
            json!(3),
            clash.clone(),
        ),
        (
            "both changed tags",
            Set,
            json!(["a", "b"]),
            json!(["a", "b", "c"]),
            json!(["b"]),
            merged(json!(["b", "c"])),
        ),
        (
            "tags from nothing",
            Set,
            Value::Null,
            json!(["x"]),
            json!(["y"]),
            merged(json!(["y", "x"])),
        ),
        (
            "text from nothing, both added",
            Text,
            Value::Null,
            json!("a\n"),
            json!("b\n"),
            FieldMerge::Clash(vec![TextPart::Clash {
                base: "".into(),
                mine: "a\n".into(),
                theirs: "b\n".into(),
            }]),
        ),
        (
            "text cleared on one side, unchanged part on the other",
            Text,
            json!("a\nb\n"),
            Value::Null,
            json!("a\nb\nc\n"),
            FieldMerge::Clash(vec![TextPart::Clash {
                base: "a\nb\n".into(),
                mine: "".into(),
                theirs: "a\nb\nc\n".into(),
            }]),
        ),
        (
            "text both removed everything",
            Text,
            json!("a\n"),
            Value::Null,
            json!(""),
            merged(Value::Null),
        ),
        (
            "lines apart",
            Text,
            json!("a\nb\nc\n"),
            json!("A\nb\nc\n"),
            json!("a\nb\nC\n"),
            merged(json!("A\nb\nC\n")),
        ),
        (
            "not text at all",
            Text,
            json!("a"),
            json!(1),
            json!("b"),
            clash.clone(),
        ),
    ];
    for (what, kind, base, mine, theirs, want) in cases {
        assert_eq!(merge_value(kind, &base, &mine, &theirs), want, "{what}");
    }
}

#[test]
fn newest_wins_settles_each_clash_for_one_side() {
    let m = merge_text("a b c\nz\n", "a X c\nz\nend\n", "a Y c\nz\n");
    assert_eq!(clashes(&m), [("b", "X", "Y")]);
    assert_eq!(settle_clashes(&m.parts, true), "a X c\nz\nend\n");
    assert_eq!(settle_clashes(&m.parts, false), "a Y c\nz\nend\n");
}
